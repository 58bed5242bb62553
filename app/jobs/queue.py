"""The one job interface: `enqueue(kind, payload, idempotency_key, team)` and `retry`.

A job is first a record in PostgreSQL, then a message on the configured transport. A record whose message
was lost (the transport was down, a worker crashed in between) is handed over again by the workers' sweep
(`app.jobs.recovery`), so a job that was recorded is never lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from app.db.models import JobRecord
from app.db.repositories import jobs as store
from app.errors import JobNotFound, JobNotRetryable, JobQueueUnavailable, PayloadTooLarge
from app.jobs.interface import JobBackend, JobHandlers, JobMessage
from app.runtime import metrics

log = logging.getLogger("adjutant.jobs")
KEY_MAX = 200  # jobs.idempotency_key


def message_of(job: JobRecord) -> JobMessage:
    return JobMessage(job_id=job.id, kind=job.kind, team_id=job.team_id)


def stored_key(raw: str | None) -> str:
    """The key as stored: a new one when none is given; a long one as its digest (still unique)."""
    if raw is None:
        return uuid.uuid4().hex
    if len(raw) > KEY_MAX:
        return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    return raw


class JobQueue:
    """Enqueueing and retrying jobs of registered kinds, on one transport."""

    def __init__(self, backend: JobBackend, handlers: JobHandlers, *, max_payload_bytes: int) -> None:
        self.backend = backend
        self.handlers = handlers
        self.max_payload_bytes = max_payload_bytes

    async def start(self) -> None:
        await self.backend.start(self.handlers.names())

    async def stop(self) -> None:
        await self.backend.stop()

    async def enqueue(self, kind: str, payload: dict[str, Any], idempotency_key: str | None, team: int) -> JobRecord:
        """The team's job for this key, queued if new. A key that was seen before finds its job, which is not
        run again (a job still waiting for its first run is handed to the transport again, harmlessly)."""
        spec = self.handlers.get(kind)
        if spec is None:
            raise ValueError(f"no handler for job kind {kind!r}")
        size = len(json.dumps(payload).encode())
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(f"a job payload of {size} bytes exceeds jobs.max_payload_bytes")
        job, created = await store.insert_or_get(
            team_id=team,
            kind=kind,
            payload=payload,
            idempotency_key=stored_key(idempotency_key),
            max_attempts=spec.max_attempts,
        )
        if created or (job.status == "QUEUED" and job.attempts == 0):
            await self.publish(job)
        if created:
            metrics.JOBS_ENQUEUED.labels(kind).inc()
        return job

    async def retry(self, job_id: int, team_id: int) -> JobRecord:
        """Queue a FAILED or DEAD job of the team again, its attempts reset."""
        job = await store.requeue(job_id, team_id)
        if job is None:
            current = await store.team_job(job_id, team_id)
            if current is None:
                raise JobNotFound("job not found")
            raise JobNotRetryable(f"the job is {current.status}; only FAILED or DEAD jobs can be retried")
        await self.publish(job)
        return job

    async def publish(self, job: JobRecord) -> None:
        try:
            await self.backend.publish(message_of(job))
        except Exception as exc:
            # The record stays QUEUED: the sweep hands it over once the transport is back.
            log.warning("job %s (%s) could not be handed to %s: %s", job.id, job.kind, self.backend.name, exc)
            raise JobQueueUnavailable(
                "the job queue cannot be reached; the job is recorded and will run once it is back"
            ) from exc
