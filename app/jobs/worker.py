"""A worker: runs jobs of some kinds from the transport, fires due schedule ticks and sweeps for jobs whose
message was lost.

At most `concurrency` jobs run at once, each kind within its own limit. Deliveries of one lane (a team's jobs
of one kind) run one after another in the order they came. `drain` is the SIGTERM path: nothing new starts,
deliveries not started are left for other workers, running jobs get `timeout_s` to finish and are then
released (QUEUED again, the attempt not counted) for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Hashable

from app.jobs.interface import Consumer, Delivery, JobBackend, JobHandlers
from app.jobs.recovery import forget_finished, hand_over_undelivered
from app.jobs.runner import JobRunner
from app.jobs.schedules import Schedules
from app.runtime.settings import JobsSettings
from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.jobs")
PREFETCH = 2  # deliveries held per slot: the next job of a lane is at hand when one ends


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        backend: JobBackend,
        handlers: JobHandlers,
        settings: JobsSettings,
        *,
        schedules: Schedules | None = None,
        kinds: Collection[str] | None = None,
        concurrency: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.kinds = sorted(kinds) if kinds else handlers.names()
        unknown = [kind for kind in self.kinds if kind not in handlers]
        if unknown:
            raise ValueError(f"no handler for job kind(s) {', '.join(unknown)}; known: {', '.join(handlers.names())}")
        self.backend = backend
        self.handlers = handlers
        self.settings = settings
        self.schedules = schedules
        self.concurrency = concurrency or settings.worker_concurrency
        self.worker_id = worker_id or new_worker_id()
        self.runner = JobRunner(backend, handlers, worker_id=self.worker_id, lease_s=settings.lease_s)
        self.slots = asyncio.Semaphore(self.concurrency)
        self.kind_slots = {kind: asyncio.Semaphore(handlers.get(kind).concurrency) for kind in self.kinds}  # type: ignore[union-attr]
        self.lanes: dict[Hashable, deque[Delivery]] = {}
        self.lane_tasks: dict[Hashable, asyncio.Task[None]] = {}
        self.held = 0
        self.consumer: Consumer | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._fetching: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._room = asyncio.Event()  # set whenever a held delivery is let go

    async def start(self) -> None:
        self.consumer = self.backend.consumer(self.kinds, self.worker_id)
        await self.consumer.start()
        self._fetching = asyncio.create_task(self._fetch(), name="jobs-fetch")
        self._loops = [asyncio.create_task(self._every(self.settings.sweep_interval_s, self._sweep), name="jobs-sweep")]
        if self.schedules is not None:
            self._loops.append(
                asyncio.create_task(self._every(self.settings.schedule_poll_s, self._fire), name="jobs-schedules")
            )
        log.info("worker %s runs %s (concurrency %d)", self.worker_id, ", ".join(self.kinds), self.concurrency)

    async def drain(self, timeout_s: float) -> None:
        """Stop taking jobs, let running ones finish within `timeout_s`, release the rest, leave the transport."""
        self._stop.set()
        if self._fetching is not None:
            # The fetch loop ends after its current read (at most a poll interval): a read cancelled mid-command
            # can leave the client waiting on a connection that never answers.
            await asyncio.wait({self._fetching}, timeout=self.settings.poll_ms / 1000 * 3 + 1)
            await stop_task(self._fetching)
        if self._loops:
            await asyncio.wait(self._loops, timeout=5)
        for task in self._loops:
            await stop_task(task)
        self._fetching, self._loops = None, []
        for queue in self.lanes.values():
            while queue:
                queue.popleft().abandon()
                self.held -= 1
        running = list(self.lane_tasks.values())
        if running:
            log.info("worker %s drains %d running job(s) for up to %.1f s", self.worker_id, len(running), timeout_s)
            _, late = await asyncio.wait(running, timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            self.consumer = None

    async def stop(self) -> None:
        await self.drain(0)

    # --- taking deliveries -------------------------------------------------------------------------------

    async def _fetch(self) -> None:
        assert self.consumer is not None
        while not self._stop.is_set():
            if self.held >= self.concurrency * PREFETCH:
                # Full: wait for a slot rather than poll an empty hand (a transport may refetch what it paused).
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), self.settings.poll_ms / 1000)
            try:
                deliveries = await self.consumer.fetch(self.concurrency * PREFETCH - self.held)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the transport comes back; so do we
                log.warning("worker %s cannot read from %s: %s", self.worker_id, self.backend.name, exc)
                await asyncio.sleep(1)
                continue
            for delivery in deliveries:
                if self._stop.is_set():
                    delivery.abandon()
                else:
                    self._hold(delivery)

    def _hold(self, delivery: Delivery) -> None:
        self.held += 1
        queue = self.lanes.setdefault(delivery.lane, deque())
        queue.append(delivery)
        if delivery.lane not in self.lane_tasks:
            self.lane_tasks[delivery.lane] = asyncio.create_task(self._lane(delivery.lane), name="jobs-lane")

    async def _lane(self, lane: Hashable) -> None:
        queue = self.lanes[lane]
        try:
            while queue:
                delivery = queue.popleft()
                try:
                    if not delivery.begin():
                        continue  # withdrawn: its partition went to another worker, which delivers it again
                    slot = self.kind_slots.get(delivery.message.kind)
                    # The kind's limit first: a lane waiting for it must not hold a slot other kinds could use.
                    async with slot or contextlib.nullcontext(), self.slots:
                        await self.runner.run(delivery)
                except asyncio.CancelledError:
                    delivery.abandon()
                    raise
                except Exception:
                    # The record still says where the job stands; its delivery comes back or is swept up.
                    log.exception("worker %s could not handle job %s", self.worker_id, delivery.message.job_id)
                    delivery.abandon()
                finally:
                    self.held -= 1
                    self._room.set()
        finally:
            self.lanes.pop(lane, None)
            self.lane_tasks.pop(lane, None)

    # --- periodic duties ---------------------------------------------------------------------------------

    async def _every(self, interval_s: float, duty: Callable[[], Awaitable[object]]) -> None:
        # A random start spreads the duties of workers started together.
        pause = random.random() * interval_s
        while not await self._paused(pause):
            try:
                await duty()
            except Exception as exc:  # noqa: BLE001 - a failed round is tried again next interval
                log.warning("worker %s: %s failed: %s", self.worker_id, getattr(duty, "__name__", duty), exc)
            pause = interval_s

    async def _paused(self, seconds: float) -> bool:
        """Wait `seconds`; True when the worker is stopping (its duties end between rounds, not inside one)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _sweep(self) -> None:
        await hand_over_undelivered(self.backend, self.settings.redeliver_after_s)
        await forget_finished(self.settings.keep_succeeded_days, self.settings.keep_dead_days)

    async def _fire(self) -> None:
        assert self.schedules is not None
        await self.schedules.fire_due(self.backend)
