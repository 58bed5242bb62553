"""Starting and stopping a process's job machinery: the transport, the queue, the schedules and, where this
process runs jobs, its worker. `adjutant serve` (each of its processes) and `adjutant worker` share it."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

import redis.asyncio as aioredis

from app.api.job_kinds import job_handlers
from app.jobs.backends import job_backend
from app.jobs.interface import JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.schedules import Schedules
from app.jobs.webhook_events import WebhookEvents
from app.jobs.worker import Worker
from app.runtime.settings import Settings
from app.search.service import SearchService

log = logging.getLogger("adjutant.jobs")


@dataclass
class JobServices:
    handlers: JobHandlers
    queue: JobQueue
    schedules: Schedules
    webhook_events: WebhookEvents
    worker: Worker | None

    async def stop(self, drain_timeout_s: float) -> None:
        """Drain the worker (running jobs finish or are released), then close the transport."""
        if self.worker is not None:
            await self.worker.drain(drain_timeout_s)
        await self.queue.stop()


async def start_jobs(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    search: SearchService,
    run_worker: bool,
    kinds: Collection[str] | None = None,
    concurrency: int | None = None,
) -> JobServices:
    webhook_events = WebhookEvents()
    queues: list[JobQueue] = []
    handlers = job_handlers(settings, search, webhook_events, lambda: queues[0], redis=redis)
    backend = job_backend(settings, redis)
    queue = JobQueue(backend, handlers, max_payload_bytes=settings.jobs.max_payload_bytes)
    queues.append(queue)
    await queue.start()
    schedules = Schedules(handlers, per_team=settings.jobs.schedules_per_team)
    worker = None
    if run_worker:
        worker = Worker(backend, handlers, settings.jobs, schedules=schedules, kinds=kinds, concurrency=concurrency)
        await worker.start()
    return JobServices(handlers, queue, schedules, webhook_events, worker)
