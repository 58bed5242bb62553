"""Replay refusal: a delivery id seen for a connection within the window (24 h by default) is refused.

The id is remembered with SET NX EX before the job is queued, so of two concurrent copies one wins; if queueing
then fails, the id is forgotten again so that the platform's own retry is accepted.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis


class ReplayGuard:
    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, platform: str, connection_id: int, delivery_id: str) -> str:
        digest = hashlib.sha256(delivery_id.encode()).hexdigest()[:40]
        return f"{self.prefix}webhooks:seen:{platform}:{connection_id}:{digest}"

    async def first_time(self, platform: str, connection_id: int, delivery_id: str) -> bool:
        """Remember the delivery; False if it was already seen within the window."""
        return bool(await self.redis.set(self._key(platform, connection_id, delivery_id), b"1", nx=True, ex=self.ttl_s))

    async def forget(self, platform: str, connection_id: int, delivery_id: str) -> None:
        await self.redis.delete(self._key(platform, connection_id, delivery_id))
