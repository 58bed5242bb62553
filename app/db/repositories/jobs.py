"""Job records: every transition a worker races another for is one conditional statement on the database's
clock, so two workers (or a worker and a slow duplicate delivery) can never both win it.

A run is named by (worker, attempts): a worker that lost its job (its lease expired and another worker took
it) can no longer record an outcome for it.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from app.db.models import JobRecord

STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD")
RETRYABLE = ("FAILED", "DEAD")
# Who may start the job now: new, due for a retry, or held by a worker whose lease ran out.
STARTABLE = (
    "(status = 'QUEUED' OR (status = 'FAILED' AND run_after <= now()) OR (status = 'RUNNING' AND lease_until < now()))"
)
_JSON_FIELDS = ("payload", "result")


def _db() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


def record(row: dict[str, Any]) -> JobRecord:
    """A row read with raw SQL, as the model (jsonb arrives as text from a raw query)."""
    values = dict(row)
    for name in _JSON_FIELDS:
        if isinstance(values.get(name), str):
            values[name] = json.loads(values[name])
    job = JobRecord(**values)
    job._saved_in_db = True
    return job


async def insert_or_get(
    *,
    team_id: int,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    max_attempts: int,
    connection: BaseDBAsyncClient | None = None,
) -> tuple[JobRecord, bool]:
    """The job with this team's idempotency key: (a new row, True), or (the row that has it, False)."""
    db = connection or _db()
    rows = await db.execute_query_dict(
        "INSERT INTO jobs (team_id, kind, payload, idempotency_key, max_attempts) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (team_id, idempotency_key) DO NOTHING RETURNING *",
        [team_id, kind, json.dumps(payload), idempotency_key, max_attempts],
    )
    if rows:
        return record(rows[0]), True
    existing = await db.execute_query_dict(
        "SELECT * FROM jobs WHERE team_id = $1 AND idempotency_key = $2", [team_id, idempotency_key]
    )
    return record(existing[0]), False


async def claim(job_id: int, worker: str, lease_s: float) -> JobRecord | None:
    """Start the job's next attempt on `worker`, if it may start now and has attempts left."""
    rows = await _db().execute_query_dict(
        "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, worker = $2, "
        "lease_until = now() + make_interval(secs => $3), run_after = NULL, started_at = now(), updated_at = now() "
        f"WHERE id = $1 AND attempts < max_attempts AND {STARTABLE} RETURNING *",
        [job_id, worker, lease_s],
    )
    return record(rows[0]) if rows else None


async def standing(job_id: int) -> dict[str, Any] | None:
    """Why a job could not be claimed: its status, attempts, and seconds until it may start (lease or backoff)."""
    rows = await _db().execute_query_dict(
        "SELECT status, attempts, max_attempts, "
        "EXTRACT(EPOCH FROM (CASE WHEN status = 'RUNNING' THEN lease_until WHEN status = 'FAILED' THEN run_after "
        "END) - now())::float8 AS wait_s FROM jobs WHERE id = $1",
        [job_id],
    )
    return rows[0] if rows else None


async def bury_exhausted(job_id: int, error: str) -> JobRecord | None:
    """DEAD, if the job may start now but has no attempts left (its workers kept dying under it)."""
    rows = await _db().execute_query_dict(
        "UPDATE jobs SET status = 'DEAD', last_error = $2, lease_until = NULL, finished_at = now(), updated_at = now() "
        f"WHERE id = $1 AND attempts >= max_attempts AND {STARTABLE} RETURNING *",
        [job_id, error],
    )
    return record(rows[0]) if rows else None


def _run(job_id: int, worker: str, attempt: int) -> tuple[str, list[Any]]:
    return "id = $1 AND worker = $2 AND attempts = $3 AND status = 'RUNNING'", [job_id, worker, attempt]


async def renew(job_id: int, worker: str, attempt: int, lease_s: float) -> bool:
    """Extend the lease of a run; False when the run is no longer this worker's."""
    where, params = _run(job_id, worker, attempt)
    count, _ = await _db().execute_query(
        f"UPDATE jobs SET lease_until = now() + make_interval(secs => $4) WHERE {where}", [*params, lease_s]
    )
    return bool(count)


async def succeed(job_id: int, worker: str, attempt: int, result: dict[str, Any] | None) -> bool:
    where, params = _run(job_id, worker, attempt)
    count, _ = await _db().execute_query(
        "UPDATE jobs SET status = 'SUCCEEDED', result = $4, lease_until = NULL, finished_at = now(), "
        f"updated_at = now() WHERE {where}",
        [*params, None if result is None else json.dumps(result)],
    )
    return bool(count)


async def fail(job_id: int, worker: str, attempt: int, error: str, retry_in_s: float) -> bool:
    """FAILED, to be tried again after `retry_in_s`."""
    where, params = _run(job_id, worker, attempt)
    count, _ = await _db().execute_query(
        "UPDATE jobs SET status = 'FAILED', last_error = $4, run_after = now() + make_interval(secs => $5), "
        f"lease_until = NULL, published_at = now(), updated_at = now() WHERE {where}",
        [*params, error, retry_in_s],
    )
    return bool(count)


async def bury(job_id: int, worker: str, attempt: int, error: str) -> JobRecord | None:
    """DEAD after a failed run: no attempts left, or a failure no retry can fix."""
    where, params = _run(job_id, worker, attempt)
    rows = await _db().execute_query_dict(
        "UPDATE jobs SET status = 'DEAD', last_error = $4, lease_until = NULL, finished_at = now(), "
        f"updated_at = now() WHERE {where} RETURNING *",
        [*params, error],
    )
    return record(rows[0]) if rows else None


async def release(job_id: int, worker: str, attempt: int) -> bool:
    """Give an unfinished run back (its worker is shutting down): QUEUED again, the attempt not counted."""
    where, params = _run(job_id, worker, attempt)
    count, _ = await _db().execute_query(
        "UPDATE jobs SET status = 'QUEUED', attempts = attempts - 1, worker = NULL, lease_until = NULL, "
        f"published_at = now(), updated_at = now() WHERE {where}",
        params,
    )
    return bool(count)


async def requeue(job_id: int, team_id: int) -> JobRecord | None:
    """A FAILED or DEAD job of the team QUEUED again with its attempts reset; None if it is not one."""
    rows = await _db().execute_query_dict(
        "UPDATE jobs SET status = 'QUEUED', attempts = 0, run_after = NULL, lease_until = NULL, finished_at = NULL, "
        "published_at = now(), updated_at = now() WHERE id = $1 AND team_id = $2 AND status IN ('FAILED', 'DEAD') "
        "RETURNING *",
        [job_id, team_id],
    )
    return record(rows[0]) if rows else None


async def undelivered(redeliver_after_s: float, limit: int) -> list[dict[str, Any]]:
    """Jobs that may start now but were last handed to the transport more than `redeliver_after_s` ago, marked
    handed over now (so that of several sweeping workers one takes each): their id, kind and team."""
    return await _db().execute_query_dict(
        "UPDATE jobs SET published_at = now() WHERE id IN (SELECT id FROM jobs "
        "WHERE status IN ('QUEUED', 'RUNNING', 'FAILED') AND published_at < now() - make_interval(secs => $1) "
        f"AND {STARTABLE} ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, kind, team_id",
        [redeliver_after_s, limit],
    )


async def forget_finished(succeeded_days: int, dead_days: int, limit: int) -> int:
    """Delete up to `limit` jobs that succeeded or died longer ago than their keeping; how many."""
    count, _ = await _db().execute_query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
        "(status = 'SUCCEEDED' AND finished_at < now() - make_interval(days => $1)) OR "
        "(status = 'DEAD' AND finished_at < now() - make_interval(days => $2)) LIMIT $3)",
        [succeeded_days, dead_days, limit],
    )
    return count


async def team_job(job_id: int, team_id: int) -> JobRecord | None:
    return await JobRecord.get_or_none(id=job_id, team_id=team_id)


async def team_jobs(
    team_id: int, *, status: str | None, kind: str | None, limit: int, before_id: int | None
) -> list[JobRecord]:
    """The team's jobs, newest first, from before `before_id` (a page's last id)."""
    query = JobRecord.filter(team_id=team_id)
    if status is not None:
        query = query.filter(status=status)
    if kind is not None:
        query = query.filter(kind=kind)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)


async def counts() -> list[dict[str, Any]]:
    """Unfinished and dead jobs by kind and status (queue depth, dead letters)."""
    return await _db().execute_query_dict(
        "SELECT kind, status, count(*)::int AS n FROM jobs WHERE status IN ('QUEUED', 'RUNNING', 'FAILED', 'DEAD') "
        "GROUP BY kind, status"
    )


async def team_counts(team_id: int) -> list[dict[str, Any]]:
    """One team's unfinished and dead jobs by kind and status."""
    return await _db().execute_query_dict(
        "SELECT kind, status, count(*)::int AS n FROM jobs WHERE team_id = $1 "
        "AND status IN ('QUEUED', 'RUNNING', 'FAILED', 'DEAD') GROUP BY kind, status ORDER BY kind, status",
        [team_id],
    )
