"""`adjutant jobs list|show|retry` and `adjutant schedules list|add|remove`: a team's background work from the
command line. Like the API, each command sees one team (`--team`): another team's job is "not found"."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from app.api.job_kinds import job_handlers
from app.cli.common import ConfigOption, DataDirOption, fail, out, run_async, settings_from_cli, user_errors
from app.cli.database import prepare_database
from app.cli.team_data import on_database, print_rows, team_id_named
from app.db.connection import close_database, open_database
from app.errors import AdjutantError
from app.jobs import records
from app.jobs.backends import job_backend
from app.jobs.interface import JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.schedules import Schedules
from app.jobs.webhook_events import WebhookEvents
from app.runtime.redis_client import open_redis
from app.runtime.settings import Settings
from app.runtime.stack import backing_services
from app.search.service import SearchService

T = TypeVar("T")
jobs_app = typer.Typer(help="The team's background jobs: list, show, retry.", no_args_is_help=True)
schedules_app = typer.Typer(help="The team's recurring jobs: list, add, remove.", no_args_is_help=True)
TeamOption = Annotated[str, typer.Option(help="The team whose jobs these are.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD")


def _handlers(settings: Settings, queue: list[JobQueue] | None = None) -> JobHandlers:
    """The kinds, to check names against; the CLI runs none, so no kind here enqueues through `queue`."""
    return job_handlers(settings, SearchService(settings), WebhookEvents(), lambda: (queue or [])[0])


def _with_queue(settings: Settings, action: Callable[[JobQueue], Awaitable[T]]) -> T:
    """Run `action` with the job queue open on the configured backend (retrying publishes a message)."""

    async def run() -> T:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        redis = await open_redis(stack.redis_url)
        queue = JobQueue(
            job_backend(settings, redis), _handlers(settings), max_payload_bytes=settings.jobs.max_payload_bytes
        )
        try:
            await queue.start()
            return await action(queue)
        finally:
            await queue.stop()
            await redis.aclose()
            await close_database()

    with user_errors(), backing_services(settings) as stack:
        try:
            return run_async(run)
        except AdjutantError as exc:
            raise fail(exc.detail) from None


# --- jobs ----------------------------------------------------------------------------------------------------


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 50,
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The team's jobs, newest first."""
    if status is not None and status.upper() not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}")
    settings = settings_from_cli(data_dir, config)

    async def run() -> list[dict[str, Any]]:
        jobs, _ = await records.team_jobs(
            await team_id_named(team), status=status.upper() if status else None, kind=kind, limit=limit
        )
        return [records.describe(job) for job in jobs]

    rows = on_database(settings, run)
    print_rows(rows, ("id", "kind", "status", "attempts", "created_at", "finished_at", "last_error"), as_json)


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """One job of the team, with its payload and result, as JSON."""
    settings = settings_from_cli(data_dir, config)

    async def run() -> dict[str, Any]:
        return records.describe(await records.team_job(await team_id_named(team), job_id), payload=True)

    print(json.dumps(on_database(settings, run), indent=2))


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str, typer.Argument(help="The id of a FAILED or DEAD job.")],
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Queue a FAILED or DEAD job of the team again, its attempts reset."""
    settings = settings_from_cli(data_dir, config)

    async def run(queue: JobQueue) -> dict[str, Any]:
        team_id = await team_id_named(team)
        job = await records.team_job(team_id, job_id)
        return records.describe(await queue.retry(job.id, team_id))

    job = _with_queue(settings, run)
    out.print(f"job {job['id']} ({job['kind']}) is {job['status']} again")


# --- schedules -------------------------------------------------------------------------------------------------


def _schedule_row(schedule: Any) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "name": schedule.name,
        "kind": schedule.kind,
        "cron": schedule.cron,
        "time_zone": schedule.time_zone,
        "payload": schedule.payload,
        "next_run_at": schedule.next_run_at.isoformat(),
        "last_run_at": schedule.last_run_at.isoformat() if schedule.last_run_at else None,
    }


@schedules_app.command("list")
def schedules_list(
    team: TeamOption = "default", as_json: JsonOption = False, data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:  # fmt: skip
    """The team's schedules and when each runs next."""
    settings = settings_from_cli(data_dir, config)
    schedules = Schedules(_handlers(settings), per_team=settings.jobs.schedules_per_team)

    async def run() -> list[dict[str, Any]]:
        return [_schedule_row(s) for s in await schedules.list(await team_id_named(team))]

    print_rows(on_database(settings, run), ("id", "name", "kind", "cron", "time_zone", "next_run_at"), as_json)


@schedules_app.command("add")
def schedules_add(
    name: Annotated[str, typer.Argument(help="A name, unique in the team.")],
    kind: Annotated[str, typer.Option(help="A schedulable job kind.")],
    cron: Annotated[str, typer.Option(help="Five fields: minute hour day-of-month month day-of-week.")],
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA zone the cron is read in.")] = "UTC",
    payload: Annotated[str, typer.Option(help="The jobs' payload, a JSON object.")] = "{}",
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Schedule a recurring job: each tick runs once however many workers run."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        raise fail("--payload must be a JSON object") from None
    if not isinstance(data, dict):
        raise fail("--payload must be a JSON object")
    settings = settings_from_cli(data_dir, config)
    schedules = Schedules(_handlers(settings), per_team=settings.jobs.schedules_per_team)

    async def run() -> dict[str, Any]:
        schedule = await schedules.add(
            await team_id_named(team), name=name, kind=kind, cron=cron, time_zone_name=time_zone, payload=data
        )
        return _schedule_row(schedule)

    row = on_database(settings, run)
    out.print(f"schedule {row['id']} {row['name']!r} runs {row['kind']} next at {row['next_run_at']}")


@schedules_app.command("remove")
def schedules_remove(
    schedule_id: Annotated[str, typer.Argument(help="The schedule's id.")],
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove one of the team's schedules."""
    settings = settings_from_cli(data_dir, config)
    schedules = Schedules(_handlers(settings), per_team=settings.jobs.schedules_per_team)

    async def run() -> dict[str, Any]:
        return _schedule_row(await schedules.remove(await team_id_named(team), schedule_id))

    row = on_database(settings, run)
    out.print(f"removed schedule {row['id']} {row['name']!r}")
