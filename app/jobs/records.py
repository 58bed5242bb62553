"""Job records as a team sees them: its jobs, newest first and filtered, one job, and their shape on the wire
and in the CLI. Another team's job answers exactly like one that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.models import JobRecord
from app.db.ownership import parse_id
from app.db.repositories import jobs as store
from app.errors import JobNotFound


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe(job: JobRecord, *, payload: bool = False) -> dict[str, Any]:
    """The job as shown to its team; the payload (a webhook's whole body, say) only when asked for."""
    shown: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "idempotency_key": job.idempotency_key,
        "last_error": job.last_error,
        "result": job.result,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "next_attempt_at": _time(job.run_after) if job.status == "FAILED" else None,
    }
    if payload:
        shown["payload"] = job.payload
    return shown


async def team_jobs(
    team_id: int, *, status: str | None = None, kind: str | None = None, limit: int = 50, before_id: int | None = None
) -> tuple[list[JobRecord], int | None]:
    """A page of the team's jobs, newest first, and the `before_id` of the next page (None on the last)."""
    rows = await store.team_jobs(team_id, status=status, kind=kind, limit=limit + 1, before_id=before_id)
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


async def team_job(team_id: int, raw_id: Any) -> JobRecord:
    job_id = parse_id(raw_id)
    job = None if job_id is None else await store.team_job(job_id, team_id)
    if job is None:
        raise JobNotFound("job not found")
    return job


async def team_counts(team_id: int) -> dict[str, dict[str, int]]:
    """The team's queue at a glance: {kind: {status: count}} for queued, running, failed and dead jobs."""
    counts: dict[str, dict[str, int]] = {}
    for row in await store.team_counts(team_id):
        counts.setdefault(row["kind"], {})[row["status"]] = row["n"]
    return counts
