"""Schedules: a team's recurring jobs. Firing a tick moves it forward with one conditional update and creates
the tick's job in the same transaction, so a tick fires exactly once however many workers race for it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import JobRecord, Schedule
from app.db.repositories import jobs as job_store


async def create(
    *, team_id: int, name: str, kind: str, payload: dict[str, Any], cron: str, time_zone: str, next_run_at: datetime
) -> Schedule | None:
    """The new schedule; None when the team already has one of that name."""
    try:
        return await Schedule.create(
            team_id=team_id,
            name=name,
            kind=kind,
            payload=payload,
            cron=cron,
            time_zone=time_zone,
            next_run_at=next_run_at,
        )
    except IntegrityError:
        return None


async def count(team_id: int) -> int:
    return await Schedule.filter(team_id=team_id).count()


async def team_schedules(team_id: int) -> list[Schedule]:
    return await Schedule.filter(team_id=team_id).order_by("name")


async def team_schedule(schedule_id: int, team_id: int) -> Schedule | None:
    return await Schedule.get_or_none(id=schedule_id, team_id=team_id)


async def delete(schedule_id: int, team_id: int) -> bool:
    return bool(await Schedule.filter(id=schedule_id, team_id=team_id).delete())


async def due(limit: int) -> tuple[list[Schedule], datetime]:
    """Schedules whose next tick has come, oldest first, and the database's clock they were read at."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT s.*, now() AS read_at FROM schedules s WHERE next_run_at <= now() ORDER BY next_run_at LIMIT $1",
        [limit],
    )
    if not rows:
        return [], datetime.min
    read_at = rows[0]["read_at"]
    schedules = []
    for row in rows:
        values = {k: v for k, v in row.items() if k != "read_at"}
        if isinstance(values.get("payload"), str):
            values["payload"] = json.loads(values["payload"])
        schedule = Schedule(**values)
        schedule._saved_in_db = True
        schedules.append(schedule)
    return schedules, read_at


async def fire(
    schedule: Schedule, *, next_run_at: datetime, idempotency_key: str, max_attempts: int
) -> JobRecord | None:
    """Fire the schedule's tick `schedule.next_run_at`: move it to `next_run_at` and create its job. None when
    another worker fired it first (or the schedule was removed)."""
    async with in_transaction() as connection:
        moved = await connection.execute_query_dict(
            "UPDATE schedules SET next_run_at = $3, last_run_at = $2 WHERE id = $1 AND next_run_at = $2 RETURNING id",
            [schedule.id, schedule.next_run_at, next_run_at],
        )
        if not moved:
            return None
        job, _ = await job_store.insert_or_get(
            team_id=schedule.team_id,
            kind=schedule.kind,
            payload=schedule.payload,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            connection=connection,
        )
        await connection.execute_query("UPDATE schedules SET last_job_id = $2 WHERE id = $1", [schedule.id, job.id])
        return job
