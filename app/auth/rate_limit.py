"""Per-principal request rate limits: a fixed one-minute window, shared by every worker through Redis."""

from __future__ import annotations

import time
from typing import Any

from app.errors import RateLimited

WINDOW_S = 60


async def check_rate(redis: Any, *, key_prefix: str, bucket: str, user_id: int, per_minute: int) -> None:
    """Count one request of `user_id` in `bucket`; beyond `per_minute` in this window, `RateLimited`."""
    window = int(time.time() // WINDOW_S)
    key = f"{key_prefix}rate:{bucket}:{user_id}:{window}"
    count = await redis.incr(key)
    if count == 1:
        await redis.expire(key, 2 * WINDOW_S)
    if count > per_minute:
        raise RateLimited(retry_after=WINDOW_S - int(time.time()) % WINDOW_S or 1)
