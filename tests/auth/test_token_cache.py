"""The short-lived token cache: a token that authenticated cleanly is remembered for seconds, and a
revocation made by any worker (or the CLI) is honoured by every worker at once, over Redis pub/sub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.auth.token_cache import RevocationFeed, TokenCache
from app.auth.tokens import TokenService, TokenState, hash_token, utcnow
from app.db.models import ApiToken
from app.errors import NotVerified
from app.runtime.settings import Settings

PREFIX = "tokencache:"


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def worker(settings: Settings, redis: aioredis.Redis, ttl_s: float = 30.0) -> TokenService:
    """One worker's token service, subscribed to revocations like the app's."""
    service = TokenService(settings.auth, cache=TokenCache(ttl_s))
    await service.connect_revocations(RevocationFeed(redis, PREFIX, service.cache))
    return service


async def revoke_behind_its_back(raw: str) -> None:
    """A revocation no worker hears about: only a cache can still accept the token afterwards."""
    await ApiToken.filter(token_hash=hash_token(raw)).update(revoked_at=utcnow())


async def test_a_clean_token_is_answered_from_memory_until_its_ttl(db, settings, redis):
    service = await worker(settings, redis, ttl_s=0.5)
    try:
        raw, _ = await service.issue(email="dev@example.com", team="core")
        first = await service.authenticate(raw)
        await revoke_behind_its_back(raw)
        assert await service.authenticate(raw) == first, "served from the cache, no lookup"
        await asyncio.sleep(0.6)
        with pytest.raises(NotVerified):
            await service.authenticate(raw)  # the entry expired: looked up again, and refused
    finally:
        await service.disconnect_revocations()


async def test_a_revocation_on_one_worker_reaches_every_workers_cache_at_once(db, settings, redis):
    a, b = await worker(settings, redis), await worker(settings, redis)
    try:
        raw, row = await a.issue(email="dev@example.com", team="core")
        await a.authenticate(raw)
        await b.authenticate(raw)  # both workers now hold it for 30 s
        await b.revoke(prefix=row.prefix)
        with pytest.raises(NotVerified):
            await b.authenticate(raw)  # the revoking worker forgot before it returned
        started = time.monotonic()
        while True:  # the other worker hears it within a pub/sub delivery, not a TTL
            try:
                await a.authenticate(raw)
            except NotVerified:
                break
            assert time.monotonic() - started < 0.5, "worker A still accepts a revoked token"
            await asyncio.sleep(0.005)
    finally:
        await a.disconnect_revocations()
        await b.disconnect_revocations()


async def test_logging_out_a_raw_token_also_clears_the_caches(db, settings, redis):
    a, b = await worker(settings, redis), await worker(settings, redis)
    try:
        raw, _ = await a.issue(email="dev@example.com", team="core")
        await a.authenticate(raw)
        await b.revoke_raw(raw)
        await asyncio.sleep(0.2)
        with pytest.raises(NotVerified):
            await a.authenticate(raw)
    finally:
        await a.disconnect_revocations()
        await b.disconnect_revocations()


async def test_without_a_live_subscription_nothing_is_served_from_memory(db, settings):
    service = TokenService(settings.auth, cache=TokenCache(30.0))  # never subscribed: it would miss revocations
    raw, _ = await service.issue(email="dev@example.com", team="core")
    await service.authenticate(raw)
    await revoke_behind_its_back(raw)
    with pytest.raises(NotVerified):
        await service.authenticate(raw)


async def test_tokens_due_for_rotation_are_never_cached(db, settings, redis):
    service = await worker(settings, redis)
    try:
        raw, _ = await service.issue(email="dev@example.com", team="core")
        hours = settings.auth.rotate_before_expiry_hours
        await ApiToken.filter(token_hash=hash_token(raw)).update(expires_at=utcnow() + timedelta(hours=hours / 2))
        first = await service.authenticate(raw)
        assert first.state is TokenState.NEAR_EXPIRY and first.replacement
        assert service.cache is not None and not service.cache.entries
        await revoke_behind_its_back(raw)
        with pytest.raises(NotVerified):
            await service.authenticate(raw)
    finally:
        await service.disconnect_revocations()


def test_a_lookup_that_began_before_an_invalidation_cannot_store_its_answer():
    cache = TokenCache(30.0)
    cache.live = True
    generation = cache.generation  # a lookup starts
    cache.invalidate()  # a revocation arrives while it waits for the database
    cache.put("hash", object(), generation, deadline_s=3600)  # type: ignore[arg-type]
    assert cache.get("hash") is None
    cache.put("hash", "fresh", cache.generation, deadline_s=3600)  # type: ignore[arg-type]
    assert cache.get("hash") == "fresh"


def test_entries_never_outlive_the_tokens_rotation_deadline():
    cache = TokenCache(30.0)
    cache.live = True
    cache.put("hash", "auth", cache.generation, deadline_s=0.05)  # type: ignore[arg-type]
    assert cache.get("hash") == "auth"
    time.sleep(0.06)
    assert cache.get("hash") is None
