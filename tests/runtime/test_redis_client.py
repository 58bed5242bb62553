"""The worker's Redis client waits for a free connection in a burst instead of failing the callers."""

from __future__ import annotations

import asyncio

from app.runtime import redis_client


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing(redis_url, monkeypatch):
    monkeypatch.setattr(redis_client, "MAX_CONNECTIONS", 4)
    client = await redis_client.open_redis(redis_url)
    try:
        # Twenty blocking reads at once on a pool of four: with redis-py's default pool the fifth raised
        # MaxConnectionsError; here they queue and all complete.
        results = await asyncio.gather(*(client.blpop([f"burst:{i}"], timeout=0.05) for i in range(20)))
        assert results == [None] * 20
        assert await client.ping()
    finally:
        await client.aclose()
