"""Developer feedback over HTTP (docs/feedback.md): send feedback from anywhere, start a run (a job), list runs,
clusters with their evidence and documentation tickets with their status, and approve or reject drafts
(maintainer role). Another team's run or ticket answers 404, exactly like an unknown one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.auth.roles import require_role
from app.db.ownership import parse_id
from app.db.wire_types import Within
from app.errors import DocTicketNotFound, FeedbackRunNotFound
from app.feedback.service import FeedbackInput, FeedbackService
from app.feedback.tickets import TicketDesk

bp = Blueprint("feedback", url_prefix="/v1")
TicketStatus = Literal["draft", "open", "resolved", "reopened", "rejected"]


class Stored(Described):
    stored: bool = Field(description="false: feedback with this external_id was stored before; nothing changed.")
    message_id: int | None


class RunJob(Described):
    job_id: int = Field(description="Poll GET /v1/jobs/{job_id}; its result names the run_id.")
    status: str
    kind: str


class ListQuery(BaseModel):
    limit: Annotated[int, Within(1, 100)] | None = Field(default=None, description="Page size; 20 by default.")


class ClusterQuery(ListQuery):
    significant: bool | None = Field(default=None, description="Only significant clusters (default: all).")


class TicketQuery(ListQuery):
    status: TicketStatus | None = None


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The Jira or Linear connection to open the ticket in; default: the team's first one.",
    )


class RunView(Described):
    id: int
    job_id: int | None
    trigger: str
    status: str
    read: dict[str, int] = Field(description="Messages read per source and channel.")
    messages_read: int = Field(description="New messages stored by this run.")
    candidates: int
    clusters: int
    significant: int
    tickets_created: int
    tickets_updated: int
    input_tokens: int
    output_tokens: int
    cost_usd: str
    errors: list[dict[str, Any]]
    started_at: str | None
    finished_at: str | None


class RunList(Described):
    runs: list[RunView]


class Evidence(Described):
    message_id: int
    source: str
    author: str | None
    url: str | None
    problem: str
    quote: str
    posted_at: str | None


class ClusterView(Described):
    id: int
    title: str
    size: int
    people: int
    significant: bool
    first_seen: str | None
    last_seen: str | None
    ticket_id: int | None
    evidence: list[Evidence]


class ClusterList(Described):
    clusters: list[ClusterView]


class TicketView(Described):
    id: int
    status: TicketStatus
    title: str
    summary: str
    suggestion: str | None = Field(description="A unified diff against the related page, or an outline of a new one.")
    pages: list[dict[str, Any]]
    evidence_count: int
    cluster_id: int | None
    tracker: str | None
    external_id: str | None
    external_url: str | None
    external_status: str | None
    approved_by: int | None
    approved_at: str | None
    resolved_at: str | None
    created_at: str | None
    updated_at: str | None


class TicketList(Described):
    tickets: list[TicketView]


class Quote(Described):
    text: str
    author: str | None
    url: str | None
    source: str


class TicketDetail(TicketView):
    evidence: list[Quote]


def _service(request: Request) -> FeedbackService:
    ctx = request.app.ctx
    settings = ctx.settings.feedback
    return FeedbackService(settings, TicketDesk(ctx.connections, quote_limit=settings.quotes_per_ticket))


def _ticket_id(raw: str) -> int:
    found = parse_id(raw)
    if found is None:
        raise DocTicketNotFound("documentation ticket not found")
    return found


@bp.post("/feedback", ctx_auth="required", ctx_client="none")
@documented(
    summary="Send developer feedback from any other place",
    description="Stored once per external_id (or per author and text when none is given) and read by the "
    "next run: 201 when stored, 200 when it was already there (nothing changes). Of the author only the name "
    "given is kept.",
    body=FeedbackInput,
    response=Stored,
    status=(201, 200),
    errors=[422],
    tag="feedback",
)
async def submit(request: Request) -> HTTPResponse:
    body = parse_body(request, FeedbackInput)
    stored = await _service(request).submit(request.ctx.auth.principal.team_id, body)
    return success(stored, status=201 if stored["stored"] else 200)


@bp.post("/feedback/runs", ctx_auth="required", ctx_client="none")
@documented(
    summary="Start a feedback run",
    description="Queues a run over the team's sources: new messages are read, clustered, and significant "
    "clusters become draft tickets or evidence on existing ones. The team's first run also adds its weekly "
    "schedule.",
    response=RunJob,
    status=202,
    errors=[503],
    tag="feedback",
)
async def start_run(request: Request) -> HTTPResponse:
    job = await _service(request).start_run(request.app.ctx.jobs, request.ctx.auth.principal.team_id, "api")
    return success(job, status=202)


@bp.get("/feedback/runs", ctx_auth="required", ctx_client="none")
@documented(summary="The team's feedback runs, newest first", query=ListQuery, response=RunList, tag="feedback")
async def list_runs(request: Request) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return success({"runs": await _service(request).runs(request.ctx.auth.principal.team_id, query.limit or 20)})


@bp.get("/feedback/runs/<run_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One feedback run", response=RunView, errors=[404], tag="feedback")
async def get_run(request: Request, run_id: str) -> HTTPResponse:
    found = parse_id(run_id)
    if found is None:
        raise FeedbackRunNotFound("feedback run not found")
    return success(await _service(request).run(request.ctx.auth.principal.team_id, found))


@bp.get("/feedback/clusters", ctx_auth="required", ctx_client="none")
@documented(
    summary="Clusters of feedback with their evidence, largest first",
    query=ClusterQuery,
    response=ClusterList,
    tag="feedback",
)
async def list_clusters(request: Request) -> HTTPResponse:
    query = parse_query(request, ClusterQuery)
    clusters = await _service(request).clusters(
        request.ctx.auth.principal.team_id, significant_only=bool(query.significant), limit=query.limit or 20
    )
    return success({"clusters": clusters})


@bp.get("/feedback/tickets", ctx_auth="required", ctx_client="none")
@documented(summary="Documentation tickets, newest first", query=TicketQuery, response=TicketList, tag="feedback")
async def list_tickets(request: Request) -> HTTPResponse:
    query = parse_query(request, TicketQuery)
    found = await _service(request).tickets(
        request.ctx.auth.principal.team_id, status=query.status, limit=query.limit or 20
    )
    return success({"tickets": found})


@bp.get("/feedback/tickets/<ticket_id>", ctx_auth="required", ctx_client="none")
@documented(summary="A documentation ticket with its evidence", response=TicketDetail, errors=[404], tag="feedback")
async def get_ticket(request: Request, ticket_id: str) -> HTTPResponse:
    return success(await _service(request).ticket(request.ctx.auth.principal.team_id, _ticket_id(ticket_id)))


@bp.post("/feedback/tickets/<ticket_id>/approve", ctx_auth="required", ctx_client="none")
@documented(
    summary="Approve a draft: open it in Jira or Linear",
    description="Needs the maintainer role. Only a draft is approved (409 otherwise).",
    body=ApproveRequest,
    response=TicketView,
    errors=[403, 404, 409, 422, 502],
    tag="feedback",
)
async def approve(request: Request, ticket_id: str) -> HTTPResponse:
    body = parse_body(request, ApproveRequest) if request.body else ApproveRequest()
    principal = request.ctx.auth.principal
    wanted = _ticket_id(ticket_id)
    await require_role(principal, "maintainer", action="approving documentation tickets")
    ticket = await _service(request).approve(principal.team_id, wanted, principal.user_id, body.connection)
    return success(ticket)


@bp.post("/feedback/tickets/<ticket_id>/reject", ctx_auth="required", ctx_client="none")
@documented(
    summary="Reject a draft",
    description="Needs the maintainer role. The topic is not drafted again; later feedback on it becomes its evidence.",
    response=TicketView,
    errors=[403, 404, 409],
    tag="feedback",
)
async def reject(request: Request, ticket_id: str) -> HTTPResponse:
    principal = request.ctx.auth.principal
    wanted = _ticket_id(ticket_id)
    await require_role(principal, "maintainer", action="rejecting documentation tickets")
    return success(await _service(request).reject(principal.team_id, wanted))
