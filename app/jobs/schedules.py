"""Schedules: a team's recurring jobs, as a five-field cron expression read in an IANA time zone.

Every worker looks for due ticks; firing one is a conditional update in PostgreSQL (`app.db.repositories.
schedules.fire`), so each tick fires exactly once however many workers run. The next tick is always computed
from now: after downtime the missed ticks fire once, not once per missed period.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from pydantic import ValidationError

from app.db.models import Schedule
from app.db.ownership import parse_id
from app.db.repositories import schedules as store
from app.errors import Conflict, InvalidRequest, ScheduleNotFound
from app.jobs.interface import JobBackend, JobHandlers, JobMessage
from app.wire_errors import validation_details

log = logging.getLogger("adjutant.jobs")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
BATCH = 100


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; InvalidRequest for anything else."""
    try:
        if not re.fullmatch(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", name) or len(name) > 64:
            raise ValueError
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise InvalidRequest(f"time_zone: {name[:64]!r} is not an IANA time zone such as Europe/Berlin") from None


def check_cron(expression: str) -> str:
    """A standard five-field cron expression (minute hour day-of-month month day-of-week), normalised."""
    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise InvalidRequest("cron: give five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * 1'")
    return " ".join(fields)


def next_tick(cron: str, zone: str, after: datetime) -> datetime:
    """The first tick strictly after `after`, in UTC; wall-clock times are read in `zone` (DST included)."""
    local = after.astimezone(ZoneInfo(zone))
    try:
        tick = croniter(cron, local).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError) as exc:  # e.g. '0 0 30 2 *' never comes
        raise InvalidRequest(f"cron: {cron!r} has no next time") from exc
    return tick.astimezone(UTC)


def tick_key(schedule_id: int, tick: datetime) -> str:
    """The idempotency key of a tick's job: one job per schedule and tick, whoever fires it."""
    return f"schedule:{schedule_id}:{tick.astimezone(UTC).isoformat()}"


class Schedules:
    """Adding, listing and removing a team's schedules, and firing the due ticks of all teams."""

    def __init__(self, handlers: JobHandlers, *, per_team: int) -> None:
        self.handlers = handlers
        self.per_team = per_team

    async def add(
        self, team_id: int, *, name: str, kind: str, cron: str, time_zone_name: str, payload: dict[str, Any]
    ) -> Schedule:
        if not NAME.match(name):
            raise InvalidRequest("name: letters, digits, '.', '_' and '-', starting with a letter or digit")
        spec = self.handlers.get(kind)
        if spec is None or not spec.schedulable:
            offered = ", ".join(self.handlers.schedulable()) or "none yet"
            raise InvalidRequest(f"kind: {kind[:100]!r} cannot be scheduled; schedulable kinds: {offered}")
        if spec.payload_model is not None:
            try:
                payload = spec.payload_model.model_validate(payload).model_dump(mode="json")
            except ValidationError as exc:
                details = [{**item, "message": f"payload.{item['message']}"} for item in validation_details(exc)]
                raise InvalidRequest(
                    f"the payload does not fit kind {kind}: {details[0]['message']}", errors=details
                ) from None
        cron = check_cron(cron)
        time_zone(time_zone_name)
        if await store.count(team_id) >= self.per_team:
            raise Conflict(f"the team already has {self.per_team} schedules (jobs.schedules_per_team)")
        schedule = await store.create(
            team_id=team_id,
            name=name,
            kind=kind,
            payload=payload,
            cron=cron,
            time_zone=time_zone_name,
            next_run_at=next_tick(cron, time_zone_name, datetime.now(UTC)),
        )
        if schedule is None:
            raise Conflict(f"the team already has a schedule named {name!r}")
        return schedule

    async def list(self, team_id: int) -> list[Schedule]:
        return await store.team_schedules(team_id)

    async def remove(self, team_id: int, raw_id: Any) -> Schedule:
        """Delete the team's schedule; another team's answers exactly like an unknown one."""
        schedule_id = parse_id(raw_id)
        schedule = None if schedule_id is None else await store.team_schedule(schedule_id, team_id)
        if schedule is None or not await store.delete(schedule.id, team_id):
            raise ScheduleNotFound("schedule not found")
        return schedule

    async def fire_due(self, backend: JobBackend) -> int:
        """Fire every due tick this worker wins; how many it fired."""
        due, read_at = await store.due(BATCH)
        fired = 0
        for schedule in due:
            spec = self.handlers.get(schedule.kind)
            if spec is None:
                log.warning("schedule %s names kind %s, which has no handler; not fired", schedule.id, schedule.kind)
                continue
            try:
                following = next_tick(schedule.cron, schedule.time_zone, read_at)
            except (InvalidRequest, ZoneInfoNotFoundError, ValueError):
                log.warning(
                    "schedule %s (%r in %s) has no next tick; not fired", schedule.id, schedule.cron, schedule.time_zone
                )
                continue
            job = await store.fire(
                schedule,
                next_run_at=following,
                idempotency_key=tick_key(schedule.id, schedule.next_run_at),
                max_attempts=spec.max_attempts,
            )
            if job is None:
                continue  # another worker fired this tick
            fired += 1
            try:
                await backend.publish(JobMessage(job_id=job.id, kind=job.kind, team_id=job.team_id))
            except Exception as exc:  # noqa: BLE001 - the job is recorded; the sweep hands it over later
                log.warning("the job of schedule %s could not be handed over yet: %s", schedule.id, exc)
        return fired
