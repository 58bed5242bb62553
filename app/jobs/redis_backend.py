"""Jobs on Redis Streams: one stream per kind and partition, consumer group `workers`.

A team's jobs of a kind go to one partition (crc32 of the team), and each partition is read by one worker at a
time (`app.jobs.redis_consumer` leases them), so a team's jobs keep their order. Retries wait in a sorted set
scored by due time on the Redis clock and move to their stream when due; dead letters go to one stream.

Keys (after `redis.key_prefix`): `jobs:<kind>:<n>` streams, `jobs:lease:<kind>:<n>` partition leases,
`jobs:members:<kind>` live workers, `jobs:delayed` retries, `jobs:dead` dead letters. The scripts touch keys
they compute, so this needs one Redis server (not a cluster).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Collection
from typing import Any

import redis.asyncio as aioredis

from app.jobs.interface import JobMessage
from app.jobs.redis_consumer import FIELD, RedisConsumer
from app.runtime.settings import JobsSettings

STREAM_MAXLEN = 100_000  # per partition; a job trimmed away unread is handed over again by the sweep
DEAD_MAXLEN = 10_000

# ARGV: delay in ms, member. Scored on the server's clock, so workers with skewed clocks agree on due times.
_DELAY = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[2])
return 1
"""
# Moves due retries to their streams. A member is "<stream>\\n<nonce>\\n<message>"; ARGV: batch, maxlen.
_MOVE_DUE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local first = string.find(member, '\\n', 1, true)
  local second = string.find(member, '\\n', first + 1, true)
  local stream = string.sub(member, 1, first - 1)
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', 'm', string.sub(member, second + 1))
end
return #due
"""


def partition_of(team_id: int, partitions: int) -> int:
    """Stable across processes and machines (Python's hash() is not)."""
    return zlib.crc32(str(team_id).encode()) % partitions


class RedisBackend:
    name = "redis"

    def __init__(self, redis: aioredis.Redis, prefix: str, settings: JobsSettings) -> None:
        self.redis = redis
        self.prefix = prefix
        self.settings = settings
        self.delayed_key = f"{prefix}jobs:delayed"
        self.dead_key = f"{prefix}jobs:dead"
        self._delay = redis.register_script(_DELAY)
        self._move_due = redis.register_script(_MOVE_DUE)

    def stream(self, kind: str, partition: int) -> str:
        return f"{self.prefix}jobs:{kind}:{partition}"

    def stream_of(self, message: JobMessage) -> str:
        return self.stream(message.kind, partition_of(message.team_id, self.settings.partitions))

    async def start(self, kinds: Collection[str]) -> None:
        await self.redis.ping()

    async def stop(self) -> None:
        return None

    async def publish(self, message: JobMessage) -> None:
        await self.redis.xadd(
            self.stream_of(message), {FIELD: message.encode()}, maxlen=STREAM_MAXLEN, approximate=True
        )

    async def publish_later(self, message: JobMessage, delay_s: float) -> None:
        member = f"{self.stream_of(message)}\n{uuid.uuid4().hex[:12]}\n".encode() + message.encode()
        await self._delay(keys=[self.delayed_key], args=[max(0, int(delay_s * 1000)), member])

    async def publish_dead(self, message: JobMessage, error: str) -> None:
        await self.redis.xadd(
            self.dead_key, {FIELD: message.encode(), b"error": error.encode()}, maxlen=DEAD_MAXLEN, approximate=True
        )

    async def move_due(self, batch: int = 500) -> int:
        """Move retries whose time has come to their streams (any worker may; each moves a member once)."""
        return int(await self._move_due(keys=[self.delayed_key], args=[batch, STREAM_MAXLEN]))

    def consumer(self, kinds: Collection[str], worker_id: str) -> RedisConsumer:
        return RedisConsumer(self, kinds, worker_id)

    async def check(self) -> dict[str, Any]:
        await self.redis.ping()
        return {"backend": self.name, "partitions": self.settings.partitions}

    async def dead_letters(self) -> int:
        return int(await self.redis.xlen(self.dead_key))
