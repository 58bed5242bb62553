"""The shared asyncio Redis client of a worker."""

from __future__ import annotations

import redis.asyncio as aioredis


async def open_redis(url: str) -> aioredis.Redis:
    client = aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)
    await client.ping()
    return client
