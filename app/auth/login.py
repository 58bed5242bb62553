"""Browser login bindings (PROTOCOL §2.2): a token bound to the extension's polling uuid, read once.

Kept in Redis, not PostgreSQL: the binding holds a raw token and must disappear on its own. The first read
consumes it; a repeat read within 60 s returns the same token (the extension may poll twice), later reads
see nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

REPEAT_READ_MS = 60_000
# Atomically read a binding and, on the first read, shorten its life to the repeat-read window.
READ_AND_CONSUME = """
local value = redis.call('GET', KEYS[1])
if not value then return nil end
if string.sub(value, 1, 1) == 'P' then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or ttl > tonumber(ARGV[1]) then ttl = tonumber(ARGV[1]) end
  redis.call('SET', KEYS[1], 'C' .. string.sub(value, 2), 'PX', ttl)
end
return string.sub(value, 2)
"""


@dataclass(frozen=True)
class LoginResult:
    token: str
    email: str
    name: str


def valid_session_uuid(raw: str | None) -> str | None:
    try:
        return str(uuid.UUID((raw or "").strip()))
    except ValueError:
        return None


class LoginBindings:
    def __init__(self, redis: aioredis.Redis, key_prefix: str, ttl_minutes: int) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.ttl_ms = ttl_minutes * 60_000
        self._read = redis.register_script(READ_AND_CONSUME)

    def _key(self, session_uuid: str) -> str:
        return f"{self.key_prefix}login:{session_uuid}"

    async def bind(self, session_uuid: str, result: LoginResult) -> bool:
        """Bind once; a uuid that already carries a binding is not rebound (returns False)."""
        payload = "P" + json.dumps({"token": result.token, "email": result.email, "name": result.name})
        return bool(await self.redis.set(self._key(session_uuid), payload, px=self.ttl_ms, nx=True))

    async def read(self, session_uuid: str) -> LoginResult | None:
        raw = await self._read(keys=[self._key(session_uuid)], args=[REPEAT_READ_MS])
        if raw is None:
            return None
        data = json.loads(raw)
        return LoginResult(data["token"], data["email"], data["name"])
