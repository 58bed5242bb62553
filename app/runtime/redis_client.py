"""The shared asyncio Redis client of a worker."""

from __future__ import annotations

import redis.asyncio as aioredis

# redis-py 8 caps a pool at 100 connections and then raises MaxConnectionsError at once: with a few hundred
# live chats each step's relay and writes need one, so a burst failed streams mid-answer. A blocking pool makes
# a burst wait for a free connection instead (bounded, so a stuck Redis still surfaces as an error).
MAX_CONNECTIONS = 2000
CONNECTION_WAIT_S = 20.0


async def open_redis(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=CONNECTION_WAIT_S,
        decode_responses=False,
        health_check_interval=30,
    )
    client = aioredis.Redis.from_pool(pool)
    await client.ping()
    return client
