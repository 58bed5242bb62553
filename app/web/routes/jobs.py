"""Jobs: the team's queue at a glance, its jobs by status (retry for failed and dead ones), one job, and the
team's schedules; the same `app/jobs` services as /v1/jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.validation import parse_query
from app.db.wire_types import MAX_WIRE_ID, WireStr
from app.jobs import records
from app.jobs.queue import JobQueue
from app.jobs.schedules import Schedules
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_jobs", url_prefix="/app")
PAGE_SIZE = 25
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD")


class JobsListQuery(BaseModel):
    status: Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD"] | None = None
    kind: WireStr | None = Field(default=None, max_length=100)
    before_id: int | None = Field(default=None, ge=1, le=MAX_WIRE_ID)


@bp.get("/jobs")
@page()
async def jobs_list(request: Request) -> HTTPResponse:
    query = parse_query(request, JobsListQuery)
    team_id = request.ctx.web.principal.team_id
    jobs, next_before = await records.team_jobs(
        team_id, status=query.status, kind=query.kind or None, limit=PAGE_SIZE, before_id=query.before_id
    )
    schedules: Schedules = request.app.ctx.schedules
    return render(
        request,
        "jobs.html",
        title="Jobs",
        counts=await records.team_counts(team_id),
        jobs=jobs,
        next_before=next_before,
        status_filter=query.status,
        kind=query.kind or "",
        statuses=STATUSES,
        schedules=await schedules.list(team_id),
    )


@bp.get("/jobs/<job_id>")
@page()
async def job_detail(request: Request, job_id: str) -> HTTPResponse:
    job = await records.team_job(request.ctx.web.principal.team_id, job_id)
    return render(request, "job.html", title=f"Job {job.id}", job=job)


@bp.post("/jobs/<job_id>/retry")
@page()
async def retry(request: Request, job_id: str) -> HTTPResponse:
    team_id = request.ctx.web.principal.team_id
    job = await records.team_job(team_id, job_id)  # a foreign id is a 404 before anything is queued
    queue: JobQueue = request.app.ctx.jobs
    await queue.retry(job.id, team_id)
    return redirect(f"/app/jobs/{job.id}")
