"""One rate limiter per connection, shared by every worker through Redis.

Services tell us their limits after the fact (429 + Retry-After, `X-RateLimit-Remaining: 0` with a reset time,
GitHub's secondary limits). The limiter turns what one worker learns into a pause every worker respects: the
pause's end is kept in Redis under the connection's key, and each call waits for it first. A pause longer than
the caller may wait is not slept through: the call fails at once with `IntegrationRateLimited(retry_after)`,
so a chat turn tells the model "rate limited, retry in 40 s" instead of hanging.

Without Redis (a CLI command that opened only the database) pauses are kept in this process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from app.errors import IntegrationRateLimited

# Keeps the later of the stored and the new end: two workers learning different pauses keep the longer one.
EXTEND_PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class ConnectionLimiter:
    def __init__(
        self,
        key: str,
        *,
        redis: Any | None,
        max_wait_s: float,
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        service: str | None = None,
    ) -> None:
        self.key = key
        self.redis = redis
        self.max_wait_s = max_wait_s
        self.service = service
        self._clock = clock
        self._local_until = 0.0
        # Calls in flight from this process: bursts of parallel tool calls would otherwise trip secondary limits.
        self._slots = asyncio.Semaphore(concurrency)

    async def paused_until(self) -> float:
        if self.redis is None:
            return self._local_until
        raw = await self.redis.get(self.key)
        return float(raw) if raw else 0.0

    async def wait(self) -> None:
        """Return when a call may go out; IntegrationRateLimited when that is further away than max_wait_s."""
        delay = await self.paused_until() - self._clock()
        if delay <= 0:
            return
        if delay > self.max_wait_s:
            raise IntegrationRateLimited(
                f"{self.service or 'the service'} rate limit reached; retry in {max(1, round(delay))} s",
                retry_after=delay,
                service=self.service,
            )
        await asyncio.sleep(delay)

    async def pause(self, seconds: float) -> None:
        """No call on this connection, from any worker, for `seconds` from now."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if self.redis is None:
            self._local_until = max(self._local_until, until)
            return
        await self.redis.eval(EXTEND_PAUSE, 1, self.key, repr(until), max(1, int(seconds * 1000) + 1000))

    def slot(self) -> asyncio.Semaphore:
        return self._slots
