"""The IDE review's REST routes (docs/review-protocol.md §4): thin adapters over `app.review.ide`. Every id is
ownership-checked by the service; a foreign id answers exactly like an unknown one (404)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import documented
from app.api.validation import parse_body, parse_query, validate
from app.review.ide import agents, history, service
from app.review.ide.runtime import IdeReviews
from app.review.ide.wire import (
    Agent,
    AgentCreate,
    AgentList,
    AgentUpdate,
    Cancelled,
    CancelQuery,
    CommentQuery,
    CommentStatusQuery,
    FeedbackBody,
    FeedbackResult,
    FixQuery,
    HistoryQuery,
    Message,
    PastReview,
    PathId,
    PreProcessRequest,
    PreProcessResult,
    RepoId,
    RepoQuery,
)

bp = Blueprint("ide_review", url_prefix="/end_user/v1/ide-reviews")
TAG = "ide-review"


def _reviews(request: Request) -> IdeReviews:
    return request.app.ctx.ide_reviews


def _path_id(raw: str) -> int:
    """A path id in ASCII digits (422 otherwise); beyond the id range it is simply not found."""
    return validate(PathId, {"id": raw}).id


@bp.get("/agents")
@documented(
    summary="The caller's review agents",
    description="The first listing creates the five predefined agents (once, also under concurrent calls).",
    response=AgentList,
    tag=TAG,
)
async def list_agents(request: Request) -> HTTPResponse:
    return success(await agents.list_agents(request.ctx.auth.principal))


@bp.post("/agents")
@documented(
    summary="Create a custom review agent",
    description="409 when a live agent of the caller already has that name.",
    body=AgentCreate,
    response=Agent,
    errors=[409],
    tag=TAG,
)
async def create_agent(request: Request) -> HTTPResponse:
    body = parse_body(request, AgentCreate)
    return success(await agents.create_agent(request.ctx.auth.principal, body))


@bp.patch("/agents/<agent_id>")
@documented(
    summary="Change an agent's prompt (and a custom agent's name)",
    body=AgentUpdate,
    response=Agent,
    errors=[404, 409],
    tag=TAG,
)
async def update_agent(request: Request, agent_id: str) -> HTTPResponse:
    raw_id = _path_id(agent_id)
    body = parse_body(request, AgentUpdate)
    return success(await agents.update_agent(request.ctx.auth.principal, raw_id, body))


@bp.delete("/agents/<agent_id>")
@documented(
    summary="Delete a custom agent",
    description="Soft delete: its old comments keep naming it. Predefined agents answer 409.",
    response=Message,
    errors=[404, 409],
    tag=TAG,
)
async def delete_agent(request: Request, agent_id: str) -> HTTPResponse:
    return success(await agents.delete_agent(request.ctx.auth.principal, _path_id(agent_id)))


@bp.get("/repos/get-repo-id")
@documented(summary="The id of a repository, created on first use", query=RepoQuery, response=RepoId, tag=TAG)
async def get_repo_id(request: Request) -> HTTPResponse:
    query = parse_query(request, RepoQuery)
    principal = request.ctx.auth.principal
    return success({"repo_id": await service.repo_id(principal, query.repo_name, query.origin_url)})


@bp.get("/history")
@documented(
    summary="Completed reviews, newest first",
    description="repo_id 0 or absent and a blank source_branch do not filter; at most review.ide_history_cap.",
    query=HistoryQuery,
    response=list[PastReview],
    tag=TAG,
)
async def past_reviews(request: Request) -> HTTPResponse:
    query = parse_query(request, HistoryQuery)
    cap = _reviews(request).limits.history_cap
    return success(await history.past_reviews(request.ctx.auth.principal, query, cap=cap))


@bp.post("/pre-process")
@documented(
    summary="Create a review from the local diff",
    description="An empty or too large diff is not an error: the review is created as rejected and every agent "
    "run for it then fails with the reason (docs/review-protocol.md §4.8).",
    body=PreProcessRequest,
    response=PreProcessResult,
    tag=TAG,
)
async def pre_process(request: Request) -> HTTPResponse:
    body = parse_body(request, PreProcessRequest)
    reviews = _reviews(request)
    return success(await service.pre_process(request.ctx.auth.principal, body, reviews.limits, reviews.running))


@bp.post("/comments/<comment_id>/feedback")
@documented(
    summary="Thumbs on a comment",
    description="One record per comment and user: each call replaces it (an absent text clears the old one).",
    body=FeedbackBody,
    response=FeedbackResult,
    errors=[404],
    tag=TAG,
)
async def comment_feedback(request: Request, comment_id: str) -> HTTPResponse:
    raw_id = _path_id(comment_id)
    body = parse_body(request, FeedbackBody)
    return success(await service.feedback(request.ctx.auth.principal, raw_id, body))


@bp.post("/comments/update-comment-status")
@documented(
    summary="Resolve, ignore or reopen a comment", query=CommentStatusQuery, response=Message, errors=[404], tag=TAG
)
async def update_comment_status(request: Request) -> HTTPResponse:
    query = parse_query(request, CommentStatusQuery)
    return success(await service.set_status(request.ctx.auth.principal, query.comment_id, query.status))


@bp.get("/comments/generate-fix-query")
@documented(
    summary="A chat message asking to fix a comment", query=CommentQuery, response=FixQuery, errors=[404], tag=TAG
)
async def generate_fix_query(request: Request) -> HTTPResponse:
    query = parse_query(request, CommentQuery)
    limits = _reviews(request).limits
    return success(await service.fix_query(request.ctx.auth.principal, query.comment_id, limits))


@bp.get("/cancel_review")
@documented(
    summary="Cancel a review",
    description="200 for any owned review, running or not; running agent steps stop within a second.",
    query=CancelQuery,
    response=Cancelled,
    errors=[404],
    tag=TAG,
)
async def cancel_review(request: Request) -> HTTPResponse:
    query = parse_query(request, CancelQuery)
    return success(await service.cancel(request.ctx.auth.principal, query.review_id, _reviews(request).running))
