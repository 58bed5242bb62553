"""One delivery, start to outcome: claim the record, run the handler within its kind's timeout while keeping
the lease fresh, and record what happened: SUCCEEDED, FAILED with its retry scheduled, or DEAD.

A delivery whose record cannot be claimed is a duplicate (the job succeeded, died, or runs elsewhere) or came
early (its backoff is not over): it is looked at again when the job could next start, never run twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from app.db.models import JobRecord
from app.db.repositories import jobs as store
from app.errors import JobFailedPermanently
from app.jobs.interface import Delivery, Job, JobBackend, JobHandlers, JobKind, JobMessage
from app.runtime import metrics
from app.runtime.redaction import redact_url

log = logging.getLogger("adjutant.jobs")
ERROR_MAX = 2000
RESULT_MAX_BYTES = 64 * 1024
RECHECK_MARGIN_S = 0.05  # look again just after the lease or backoff ends, not just before


def job_of(record: JobRecord) -> Job:
    return Job(
        id=record.id,
        kind=record.kind,
        team_id=record.team_id,
        payload=dict(record.payload or {}),
        attempt=record.attempts,
        max_attempts=record.max_attempts,
        idempotency_key=record.idempotency_key,
    )


def kept_result(result: Any) -> dict[str, Any] | None:
    """What of a handler's return value is kept on the record: a small JSON object, or nothing."""
    if result is None:
        return None
    if not isinstance(result, dict):
        return {"note": "the handler returned something other than an object"}
    try:
        size = len(json.dumps(result).encode())
    except (TypeError, ValueError):
        return {"note": "the handler returned an object that is not JSON"}
    return result if size <= RESULT_MAX_BYTES else {"note": f"the result ({size} bytes) was too large to keep"}


class JobRunner:
    def __init__(
        self,
        backend: JobBackend,
        handlers: JobHandlers,
        *,
        worker_id: str,
        lease_s: float,
        redact: Callable[[str], str] = redact_url,
    ) -> None:
        self.backend = backend
        self.handlers = handlers
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.redact = redact

    async def run(self, delivery: Delivery) -> None:
        """Handle the delivery and mark it done; on cancellation (shutdown) the job is released and the
        delivery left for another worker."""
        message = delivery.message
        kind = self.handlers.get(message.kind)
        if kind is None:
            log.error(
                "job %s has kind %s, which has no handler here; dropping the message", message.job_id, message.kind
            )
        else:
            record = await store.claim(message.job_id, self.worker_id, self.lease_s)
            if record is None:
                await self._not_claimed(kind, message)
            else:
                await self._attempt(kind, message, record)
        await delivery.done()

    async def _not_claimed(self, kind: JobKind, message: JobMessage) -> None:
        standing = await store.standing(message.job_id)
        if standing is None or standing["status"] in ("SUCCEEDED", "DEAD"):
            return  # gone, or a duplicate of a finished job
        wait_s = standing["wait_s"]
        if standing["attempts"] >= standing["max_attempts"] and (wait_s is None or wait_s <= 0):
            attempts = standing["attempts"]
            error = (
                f"its worker stopped {attempts} time{'s' if attempts != 1 else ''} before the job finished "
                "(killed, out of memory, or cut off); it is not tried again"
            )
            dead = await store.bury_exhausted(message.job_id, error)
            if dead is not None:
                await self._died(kind, message, job_of(dead), error)
            return
        if wait_s is not None and wait_s > 0:
            # Running under a live lease elsewhere, or waiting for its backoff: if that worker dies, or the
            # backoff ends, this is the message that starts it.
            await self.backend.publish_later(message, wait_s + RECHECK_MARGIN_S)

    async def _attempt(self, kind: JobKind, message: JobMessage, record: JobRecord) -> None:
        job = job_of(record)
        if record.started_at is not None and record.published_at is not None:
            metrics.JOB_WAIT.labels(kind.name).observe(
                max(0.0, (record.started_at - record.published_at).total_seconds())
            )
        keeper = asyncio.create_task(self._keep_lease(job), name=f"job-lease-{job.id}")
        started = time.monotonic()
        error: str | None = None
        final = False
        result: Any = None
        try:
            async with asyncio.timeout(kind.timeout_s) as deadline:
                result = await kind.handler(job)
        except asyncio.CancelledError:
            keeper.cancel()
            await asyncio.shield(self._release(job))
            raise
        except TimeoutError as exc:
            error = f"timed out after {kind.timeout_s:g} s" if deadline.expired() else f"TimeoutError: {exc}"
        except JobFailedPermanently as exc:
            error, final = str(exc) or "the job failed and cannot be retried", True
        except Exception as exc:  # noqa: BLE001 - any failure of a handler is an attempt's outcome
            error = f"{exc.__class__.__name__}: {exc}"
        finally:
            keeper.cancel()
        elapsed = time.monotonic() - started
        if error is None:
            metrics.JOB_DURATION.labels(kind.name, "succeeded").observe(elapsed)
            if not await store.succeed(job.id, self.worker_id, job.attempt, kept_result(result)):
                log.warning("job %s finished after another worker took it over; its outcome is not recorded", job.id)
            return
        await self._failed(kind, message, job, self.redact(error)[:ERROR_MAX], final=final, elapsed=elapsed)

    async def _failed(
        self, kind: JobKind, message: JobMessage, job: Job, error: str, *, final: bool, elapsed: float
    ) -> None:
        metrics.JOB_FAILURES.labels(kind.name).inc()
        if final or job.attempt >= job.max_attempts:
            metrics.JOB_DURATION.labels(kind.name, "dead").observe(elapsed)
            dead = await store.bury(job.id, self.worker_id, job.attempt, error)
            if dead is not None:
                log.warning("job %s (%s) is DEAD after attempt %d: %s", job.id, kind.name, job.attempt, error)
                await self._died(kind, message, job, error)
            return
        metrics.JOB_DURATION.labels(kind.name, "failed").observe(elapsed)
        delay = kind.backoff.delay(job.attempt)
        log.info("job %s (%s) attempt %d failed, retrying in %.1f s: %s", job.id, kind.name, job.attempt, delay, error)
        if await store.fail(job.id, self.worker_id, job.attempt, error, delay):
            await self.backend.publish_later(message, delay)

    async def _died(self, kind: JobKind, message: JobMessage, job: Job, error: str) -> None:
        metrics.JOBS_DIED.labels(kind.name).inc()
        try:
            await self.backend.publish_dead(message, error)
        except Exception as exc:  # noqa: BLE001 - the record already says DEAD; the dead-letter copy is secondary
            log.warning("job %s could not be written to the dead letters: %s", job.id, exc)
        if kind.on_dead is not None:
            try:
                await kind.on_dead(job, error)
            except Exception:
                log.exception("the dead-job hook of %s failed for job %s", kind.name, job.id)

    async def _release(self, job: Job) -> None:
        with contextlib.suppress(Exception):  # if it cannot be released, its lease runs out and it is taken over
            await store.release(job.id, self.worker_id, job.attempt)
            log.info("job %s released unfinished for another worker", job.id)

    async def _keep_lease(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                if not await store.renew(job.id, self.worker_id, job.attempt, self.lease_s):
                    log.warning("job %s was taken over by another worker while running here", job.id)
                    return
            except Exception as exc:  # noqa: BLE001 - a missed renewal is retried; the lease has slack
                log.warning("could not renew the lease of job %s: %s", job.id, exc)
