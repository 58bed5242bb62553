"""Client tests: real Redis (limiter pauses, ETags), a runtime with short backoffs, connections built in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import redis.asyncio as aioredis

from app.integrations.connection import ConnectionInfo, Kind
from app.integrations.runtime import IntegrationRuntime
from app.runtime.settings import IntegrationSettings

TEST_SETTINGS = {
    "timeout_s": 3.0,
    "max_retries": 2,
    "backoff_base_s": 0.01,
    "max_rate_wait_s": 1.5,
    "concurrency_per_connection": 4,
    "blocking_threads": 4,
    "etag_cache_ttl_s": 600,
    "allowed_hosts": ("127.0.0.1",),
    "max_tool_output_chars": 12000,
    "kinds_cache_s": 5.0,
}


def integration_settings(**overrides: Any) -> IntegrationSettings:
    return IntegrationSettings(**(TEST_SETTINGS | overrides))


@pytest_asyncio.fixture
async def runtime(redis_url: str) -> AsyncIterator[IntegrationRuntime]:
    redis = aioredis.Redis.from_url(redis_url)
    built = IntegrationRuntime(integration_settings(), redis=redis, key_prefix="test:")
    yield built
    built.close()
    await redis.aclose()


@pytest_asyncio.fixture
async def second_runtime(redis_url: str) -> AsyncIterator[IntegrationRuntime]:
    """Another worker: its own limiter objects, the same Redis."""
    redis = aioredis.Redis.from_url(redis_url)
    built = IntegrationRuntime(integration_settings(), redis=redis, key_prefix="test:")
    yield built
    built.close()
    await redis.aclose()


_next_id = iter(range(1000, 10**9))


def connection(kind: Kind, base_url: str, credentials: dict[str, str], **options: Any) -> ConnectionInfo:
    """A connection as `app.integrations.connections` would build it; a new id each time (own limiter, ETags)."""
    return ConnectionInfo(
        id=next(_next_id),
        team_id=1,
        kind=kind,
        name=f"test-{kind}",
        base_url=base_url.rstrip("/"),
        credentials=credentials,
        options=options,
    )
