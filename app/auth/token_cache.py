"""A few seconds of memory for tokens that authenticated cleanly, so a burst of requests (a chat's socket
upgrade and its frames, SSE posts) costs one token lookup rather than one each.

Revocation must still reach every worker at once, so the cache is only consulted while this worker is
subscribed to the revocation channel: a revoke publishes on it before it returns, every subscribed worker
forgets everything it cached, and a worker that lost its subscription stops using the cache until it has
resubscribed (and forgotten everything again). A lookup that started before an invalidation may not
store its answer afterwards (`generation`), so a revoke racing a lookup cannot leave a stale entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.runtime.tasks import stop_task

if TYPE_CHECKING:
    from app.auth.tokens import Authentication

log = logging.getLogger("adjutant.auth")
MAX_ENTRIES = 20_000
RECONNECT_S = 1.0


def revocation_channel(prefix: str) -> str:
    return f"{prefix}auth:revoked"


class TokenCache:
    """Authentications by token hash, each kept `ttl_s` seconds and never past the token's own deadline."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.entries: OrderedDict[str, tuple[float, Authentication]] = OrderedDict()
        self.generation = 0
        self.live = False  # subscribed to revocations: only then may entries be served

    def get(self, token_hash: str) -> Authentication | None:
        if not self.live:
            return None
        entry = self.entries.get(token_hash)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            del self.entries[token_hash]
            return None
        return entry[1]

    def put(self, token_hash: str, auth: Authentication, generation: int, deadline_s: float) -> None:
        """Keep `auth` unless the cache was invalidated since `generation` was read; `deadline_s` is how long
        the token stays valid without rotation, from now."""
        if not self.live or generation != self.generation or deadline_s <= 0:
            return
        self.entries[token_hash] = (time.monotonic() + min(self.ttl_s, deadline_s), auth)
        self.entries.move_to_end(token_hash)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def invalidate(self) -> None:
        self.generation += 1
        self.entries.clear()


class RevocationFeed:
    """Publishes revocations, and keeps one worker's `TokenCache` subscribed to everyone's."""

    def __init__(self, redis: aioredis.Redis, prefix: str, cache: TokenCache | None = None) -> None:
        self.redis = redis
        self.channel = revocation_channel(prefix)
        self.cache = cache
        self._listener: asyncio.Task[None] | None = None

    async def publish(self) -> None:
        """Tell every worker to forget what it cached; raises RedisError when Redis cannot be reached."""
        if self.cache is not None:
            self.cache.invalidate()
        await self.redis.publish(self.channel, b"1")

    async def start(self) -> None:
        if self.cache is None:
            return
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(pubsub), name="token-revocation-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            await stop_task(self._listener)
        if self.cache is not None:
            self.cache.live = False
            self.cache.invalidate()

    async def _subscribe(self) -> PubSub:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)
        return pubsub

    async def _listen(self, pubsub: PubSub | None) -> None:
        assert self.cache is not None
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._subscribe()
                # Anything revoked while we were not listening is forgotten here, before serving again.
                self.cache.invalidate()
                self.cache.live = True
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.cache.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - whatever broke the subscription, the cache goes off until it is back
                log.warning("token revocation listener lost Redis; the token cache is off until it is back")
            self.cache.live = False
            self.cache.invalidate()
            if pubsub is not None:
                with contextlib.suppress(Exception, RedisError):
                    await pubsub.aclose()
            pubsub = None
            await asyncio.sleep(RECONNECT_S)
