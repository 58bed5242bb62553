"""Docs feedback: the clusters found in developers' feedback with their evidence, and the draft documentation
tickets a maintainer approves (opened in Jira or Linear) or rejects (app/feedback, as /v1/feedback)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.validation import parse_form, parse_query, validate
from app.auth.roles import require_role
from app.db.ownership import parse_id
from app.db.wire_types import WireStr
from app.errors import DocTicketNotFound
from app.feedback.service import LIST_MAX, FeedbackService
from app.feedback.tickets import TicketDesk
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_feedback", url_prefix="/app")
PAGE_SIZE = 20


class FeedbackQuery(BaseModel):
    status: Literal["draft", "open", "resolved", "reopened", "rejected"] | None = None
    all_clusters: bool = False
    limit: int = Field(default=PAGE_SIZE, ge=1, le=LIST_MAX)


class ApproveForm(BaseModel):
    connection: WireStr | None = Field(default=None, max_length=200)


def service(request: Request) -> FeedbackService:
    ctx = request.app.ctx
    settings = ctx.settings.feedback
    return FeedbackService(settings, TicketDesk(ctx.connections, quote_limit=settings.quotes_per_ticket))


def ticket_id(raw: str) -> int:
    found = parse_id(raw)
    if found is None:
        raise DocTicketNotFound("documentation ticket not found")
    return found


@bp.get("/feedback")
@page()
async def feedback(request: Request) -> HTTPResponse:
    query = parse_query(request, FeedbackQuery)
    team_id = request.ctx.web.principal.team_id
    tickets = await service(request).tickets(team_id, status=query.status, limit=query.limit + 1)
    clusters = await service(request).clusters(team_id, significant_only=not query.all_clusters, limit=PAGE_SIZE)
    return render(
        request,
        "feedback.html",
        title="Docs feedback",
        tickets=tickets[: query.limit],
        more_tickets=len(tickets) > query.limit and query.limit < LIST_MAX,
        limit=query.limit,
        status_filter=query.status,
        clusters=clusters,
        all_clusters=query.all_clusters,
    )


@bp.get("/feedback/tickets/<raw_id>")
@page()
async def ticket(request: Request, raw_id: str) -> HTTPResponse:
    principal = request.ctx.web.principal
    found = await service(request).ticket(principal.team_id, ticket_id(raw_id))
    trackers = [c for c in await request.app.ctx.connections.list(principal.team_id) if c.kind in ("jira", "linear")]
    return render(request, "feedback_ticket.html", title=found["title"], ticket=found, trackers=trackers)


@bp.post("/feedback/tickets/<raw_id>/approve")
@page()
async def approve(request: Request, raw_id: str) -> HTTPResponse:
    principal = request.ctx.web.principal
    wanted = ticket_id(raw_id)
    fields, _ = parse_form(request)
    form = validate(ApproveForm, {"connection": fields.get("connection") or None})
    await require_role(principal, "maintainer", action="approving documentation tickets")
    await service(request).approve(principal.team_id, wanted, principal.user_id, form.connection)
    return redirect(f"/app/feedback/tickets/{wanted}")


@bp.post("/feedback/tickets/<raw_id>/reject")
@page()
async def reject(request: Request, raw_id: str) -> HTTPResponse:
    principal = request.ctx.web.principal
    wanted = ticket_id(raw_id)
    await require_role(principal, "maintainer", action="rejecting documentation tickets")
    await service(request).reject(principal.team_id, wanted)
    return redirect(f"/app/feedback/tickets/{wanted}")
