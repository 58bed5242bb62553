"""Browser login bindings (docs/protocol.md §2.2): a token bound to the extension's polling uuid, read once.

Kept in Redis, not PostgreSQL: a binding must disappear on its own. The first read consumes it; a repeat
read within 60 s returns the same token (the extension may poll twice), later reads see nothing.

Redis persists what it holds (the append-only file keeps every write), so a binding holds no token and
no uuid: its key is the uuid's SHA-256, and the token is HMAC(seed, uuid) with a random seed kept in the
binding. Deriving it needs the uuid, which only the polling extension and the login form's request
carry; that is also exactly what it takes to poll the token out, so a copy of Redis's files adds nothing.
(A server-side encryption key would have to be configured on, and shared by, every worker.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class LoginBinding:
    """What a login binds to a polling uuid; `token` is what the extension will read."""

    session_uuid: str
    email: str
    name: str
    seed: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def token(self) -> str:
        return login_token(self.seed, self.session_uuid)


def login_token(seed: bytes, session_uuid: str) -> str:
    """A token in the usual format (`adj_` + 43 characters), derived from the binding's seed and the uuid."""
    digest = hmac.new(seed, session_uuid.encode(), hashlib.sha256).digest()
    return "adj_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


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

    def key(self, session_uuid: str) -> str:
        return f"{self.key_prefix}login:{hashlib.sha256(session_uuid.encode()).hexdigest()}"

    async def bind(self, binding: LoginBinding) -> bool:
        """Bind once; a uuid that already carries a binding is not rebound (returns False)."""
        data = {"seed": binding.seed.hex(), "email": binding.email, "name": binding.name}
        return bool(
            await self.redis.set(self.key(binding.session_uuid), "P" + json.dumps(data), px=self.ttl_ms, nx=True)
        )

    async def read(self, session_uuid: str) -> LoginResult | None:
        raw = await self._read(keys=[self.key(session_uuid)], args=[REPEAT_READ_MS])
        if raw is None:
            return None
        data = json.loads(raw)
        return LoginResult(login_token(bytes.fromhex(data["seed"]), session_uuid), data["email"], data["name"])
