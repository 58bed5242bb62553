"""The team's background jobs and schedules over HTTP: list and read jobs, retry a failed one; list, add and
remove schedules. Another team's job or schedule answers exactly like an unknown one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.db.models import Schedule
from app.db.wire_types import MAX_WIRE_ID, WireStr, Within
from app.jobs import records
from app.jobs.queue import JobQueue
from app.jobs.schedules import Schedules

bp = Blueprint("jobs", url_prefix="/v1")
Status = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD"]


class JobsQuery(BaseModel):
    status: Status | None = None
    kind: WireStr | None = Field(default=None, max_length=100)
    limit: Annotated[int, Within(1, 200)] | None = Field(default=None, description="Page size; 50 by default.")
    before_id: Annotated[int, Within(1, MAX_WIRE_ID)] | None = Field(
        default=None, description="Continue after this id: the next_before_id of the previous page."
    )


class JobInfo(Described):
    id: int
    kind: str
    status: Status
    attempts: int = Field(description="Attempts started so far (one a worker died in counts).")
    max_attempts: int
    idempotency_key: str
    last_error: str | None = Field(description="Why the last attempt failed, credentials redacted.")
    result: dict[str, Any] | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    next_attempt_at: str | None = Field(description="When a FAILED job is tried again.")


class JobDetail(JobInfo):
    payload: dict[str, Any]


class JobPage(Described):
    jobs: list[JobInfo]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null on the last one.")


class ScheduleBody(BaseModel):
    name: WireStr = Field(min_length=1, max_length=100)
    kind: WireStr = Field(min_length=1, max_length=100, description="A schedulable job kind.")
    cron: WireStr = Field(
        min_length=1, max_length=200, description="Five fields: minute hour day-of-month month day-of-week."
    )
    time_zone: WireStr = Field(
        default="UTC", min_length=1, max_length=64, description="An IANA zone, e.g. Europe/Berlin."
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="Given to each tick's job; checked by its kind.")


class ScheduleInfo(Described):
    id: int
    name: str
    kind: str
    cron: str
    time_zone: str
    payload: dict[str, Any]
    next_run_at: str
    last_run_at: str | None
    last_job_id: int | None
    created_at: str


def describe_schedule(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "name": schedule.name,
        "kind": schedule.kind,
        "cron": schedule.cron,
        "time_zone": schedule.time_zone,
        "payload": schedule.payload,
        "next_run_at": schedule.next_run_at.isoformat(),
        "last_run_at": schedule.last_run_at.isoformat() if schedule.last_run_at else None,
        "last_job_id": schedule.last_job_id,
        "created_at": schedule.created_at.isoformat(),
    }


@bp.get("/jobs", ctx_auth="required", ctx_client="none")
@documented(summary="The team's jobs, newest first", query=JobsQuery, response=JobPage, tag="jobs")
async def list_jobs(request: Request) -> HTTPResponse:
    query = parse_query(request, JobsQuery)
    jobs, next_before = await records.team_jobs(
        request.ctx.auth.principal.team_id,
        status=query.status,
        kind=query.kind,
        limit=query.limit or 50,
        before_id=query.before_id,
    )
    return success({"jobs": [records.describe(job) for job in jobs], "next_before_id": next_before})


@bp.get("/jobs/<job_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One job, with its payload", response=JobDetail, errors=[404], tag="jobs")
async def get_job(request: Request, job_id: str) -> HTTPResponse:
    job = await records.team_job(request.ctx.auth.principal.team_id, job_id)
    return success(records.describe(job, payload=True))


@bp.post("/jobs/<job_id>/retry", ctx_auth="required", ctx_client="none")
@documented(
    summary="Retry a FAILED or DEAD job",
    description="Queues it again with its attempts reset; a job queued, running or succeeded answers 409.",
    response=JobInfo,
    status=202,
    errors=[404, 409, 503],
    tag="jobs",
)
async def retry_job(request: Request, job_id: str) -> HTTPResponse:
    team_id = request.ctx.auth.principal.team_id
    job = await records.team_job(team_id, job_id)
    queue: JobQueue = request.app.ctx.jobs
    return success(records.describe(await queue.retry(job.id, team_id)), status=202)


@bp.get("/schedules", ctx_auth="required", ctx_client="none")
@documented(summary="The team's schedules", response=list[ScheduleInfo], tag="jobs")
async def list_schedules(request: Request) -> HTTPResponse:
    schedules: Schedules = request.app.ctx.schedules
    return success([describe_schedule(s) for s in await schedules.list(request.ctx.auth.principal.team_id)])


@bp.post("/schedules", ctx_auth="required", ctx_client="none")
@documented(
    summary="Schedule a recurring job",
    description="Each tick runs one job of the kind, once however many workers run; after downtime a missed "
    "tick runs once. Answers 409 for a name the team already uses.",
    body=ScheduleBody,
    response=ScheduleInfo,
    status=201,
    errors=[409],
    tag="jobs",
)
async def add_schedule(request: Request) -> HTTPResponse:
    body = parse_body(request, ScheduleBody)
    schedules: Schedules = request.app.ctx.schedules
    schedule = await schedules.add(
        request.ctx.auth.principal.team_id,
        name=body.name,
        kind=body.kind,
        cron=body.cron,
        time_zone_name=body.time_zone,
        payload=body.payload,
    )
    return success(describe_schedule(schedule), status=201)


@bp.delete("/schedules/<schedule_id>", ctx_auth="required", ctx_client="none")
@documented(summary="Remove a schedule", response=ScheduleInfo, errors=[404], tag="jobs")
async def remove_schedule(request: Request, schedule_id: str) -> HTTPResponse:
    schedules: Schedules = request.app.ctx.schedules
    return success(describe_schedule(await schedules.remove(request.ctx.auth.principal.team_id, schedule_id)))
