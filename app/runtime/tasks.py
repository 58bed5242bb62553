"""Stopping background tasks without letting one stuck task hang a shutdown."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("adjutant.runtime")


async def stop_task(task: asyncio.Task[None], timeout_s: float = 2.0) -> None:
    """Cancel `task` and wait up to `timeout_s` for it to end.

    A task blocked inside a client library that swallows or defers cancellation (redis-py's pub/sub
    mid-connect is one) must not keep the process from shutting down; it is logged and abandoned.
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("background task %s did not stop within %.1f s; abandoning it", task.get_name(), timeout_s)
        return
    if not task.cancelled() and task.exception() is not None:
        log.warning("background task %s ended with an error", task.get_name(), exc_info=task.exception())
