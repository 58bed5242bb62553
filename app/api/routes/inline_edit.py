"""Inline-edit jobs (docs/protocol.md §4.4): submit one, then poll it until it is COMPLETED or FAILED."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Header, documented
from app.api.validation import parse_body, parse_query
from app.chat.inline_edit import InlineEdits
from app.chat.inline_edit_wire import InlineEditAccepted, InlineEditRequest, JobStatus, JobStatusQuery

bp = Blueprint("inline_edit")


JOB_SESSION = Header(
    "X-Session-ID", "The job's session; required with tool_use_response, else one is created.", required=False
)


def inline_edits(request: Request) -> InlineEdits:
    return request.app.ctx.inline_edits


@bp.post("/end_user/v2/code-gen/generate-inline-edit")
@documented(
    summary="Start an inline-edit job (docs/protocol.md §4.4)",
    description="Poll get-job-status with the job_id; a follow-up repeats the body plus tool_use_response.",
    body=InlineEditRequest,
    response=InlineEditAccepted,
    headers=[JOB_SESSION],
    errors=[404],
    tag="inline_edit",
)
async def generate_inline_edit(request: Request) -> HTTPResponse:
    body = parse_body(request, InlineEditRequest)
    accepted: InlineEditAccepted = await inline_edits(request).submit(
        request.ctx.auth.principal, body, header_session_id=request.headers.get("x-session-id")
    )
    return success(accepted.model_dump())


@bp.get("/end_user/v1/code-gen/get-job-status")
@documented(
    summary="An inline-edit job's status",
    query=JobStatusQuery,
    response=JobStatus,
    errors=[404],
    tag="inline_edit",
)
async def get_job_status(request: Request) -> HTTPResponse:
    query = parse_query(request, JobStatusQuery)
    status: JobStatus = await inline_edits(request).status(request.ctx.auth.principal, query.job_id)
    return success(status.wire())
