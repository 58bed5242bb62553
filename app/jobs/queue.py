"""A job queue on a Redis stream with one consumer group: every worker consumes; a job a crashed worker
left unacknowledged is reclaimed by another after `reclaim_after_s`; a running job keeps its claim fresh.

Handlers record their own outcome (e.g. a repository's status); the queue only guarantees delivery, and
gives a job up after `max_deliveries`: a job that kills its worker every time would otherwise be reclaimed
(and kill the next worker) forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.jobs")
Handler = Callable[[dict[str, Any]], Awaitable[None]]
# Told the payload and how many times the job was delivered; records the job's failure where its owner looks.
GiveUpHandler = Callable[[dict[str, Any], int], Awaitable[None]]
GROUP = "workers"


class JobQueue:
    """Background jobs on one Redis stream: at-least-once delivery, reclaimed from dead workers, capped."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        reclaim_after_s: float = 120.0,
        block_ms: int = 2000,
        max_deliveries: int = 3,
    ) -> None:
        self.redis = redis
        self.stream = f"{prefix}jobs"
        self.consumer = f"worker-{uuid.uuid4().hex[:12]}"
        self.handlers: dict[str, Handler] = {}
        self.give_up_handlers: dict[str, GiveUpHandler] = {}
        self.max_deliveries = max_deliveries
        self.reclaim_after_ms = int(reclaim_after_s * 1000)
        self.block_ms = block_ms
        self._task: asyncio.Task[None] | None = None

    def register(self, kind: str, handler: Handler, *, on_give_up: GiveUpHandler | None = None) -> None:
        self.handlers[kind] = handler
        if on_give_up is not None:
            self.give_up_handlers[kind] = on_give_up

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> str:
        if kind not in self.handlers:
            raise ValueError(f"no handler for job kind {kind!r}")
        entry = await self.redis.xadd(
            self.stream, {"kind": kind, "payload": json.dumps(payload)}, maxlen=100_000, approximate=True
        )
        return entry.decode() if isinstance(entry, bytes) else entry

    async def start(self) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: another worker created it
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        self._task = asyncio.create_task(self._consume(), name="job-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)

    async def _consume(self) -> None:
        while True:
            try:
                entries = await self._reclaimed() or await self._new()
                for entry_id, fields in entries:
                    await self._run(entry_id, fields)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("job consumer error; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def _reclaimed(self) -> list[tuple[Any, dict[Any, Any]]]:
        reply = await self.redis.xautoclaim(self.stream, GROUP, self.consumer, self.reclaim_after_ms, "0-0", count=1)
        runnable = []
        for entry_id, fields in reply[1]:
            if not fields:  # trimmed from the stream while pending: nothing left to run
                await self.redis.xack(self.stream, GROUP, entry_id)
                continue
            deliveries = await self._deliveries(entry_id)
            if deliveries > self.max_deliveries:
                await self._give_up(entry_id, fields, deliveries)
                continue
            runnable.append((entry_id, fields))
        return runnable

    async def _deliveries(self, entry_id: Any) -> int:
        """How often the entry was handed to a worker, this reclaim included (XAUTOCLAIM counts it)."""
        pending = await self.redis.xpending_range(self.stream, GROUP, entry_id, entry_id, 1)
        return int(pending[0]["times_delivered"]) if pending else 0

    async def _give_up(self, entry_id: Any, fields: dict[Any, Any], deliveries: int) -> None:
        kind = _text(fields.get(b"kind") or fields.get("kind"))
        payload = json.loads(_text(fields.get(b"payload") or fields.get("payload") or "{}"))
        log.error("job %s (%s) was delivered %d times without finishing; giving it up", entry_id, kind, deliveries)
        on_give_up = self.give_up_handlers.get(kind)
        if on_give_up is not None:
            # If recording the failure fails, the entry stays pending and the next reclaim tries again.
            await on_give_up(payload, deliveries)
        await self.redis.xack(self.stream, GROUP, entry_id)

    async def _new(self) -> list[tuple[Any, dict[Any, Any]]]:
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=1, block=self.block_ms)
        return [entry for _, entries in reply or [] for entry in entries]

    async def _run(self, entry_id: Any, fields: dict[Any, Any]) -> None:
        kind = _text(fields.get(b"kind") or fields.get("kind"))
        payload = json.loads(_text(fields.get(b"payload") or fields.get("payload") or "{}"))
        handler = self.handlers.get(kind)
        keeper = asyncio.create_task(self._keep_claim(entry_id))
        try:
            if handler is None:
                log.error("no handler for job %s of kind %s; dropping it", entry_id, kind)
            else:
                await handler(payload)
        except Exception:
            # Handlers record their own failure; retrying a job that fails deterministically would loop.
            log.exception("job %s (%s) failed", entry_id, kind)
        finally:
            keeper.cancel()
        # Not reached on cancellation (shutdown): the entry stays pending and is reclaimed later.
        await self.redis.xack(self.stream, GROUP, entry_id)

    async def _keep_claim(self, entry_id: Any) -> None:
        """Reset the entry's idle time while it runs, so no other worker reclaims a long job."""
        while True:
            await asyncio.sleep(self.reclaim_after_ms / 4000)
            with contextlib.suppress(Exception):
                await self.redis.xclaim(self.stream, GROUP, self.consumer, 0, [entry_id], justid=True)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
