"""The team's pull-request reviews over HTTP: the review runs, one run with its findings, comments and dropped
findings, the audit trail, and each connection's permission to approve. Another team's review or connection
answers exactly like an unknown one."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.auth.roles import require_role
from app.db.wire_types import MAX_WIRE_ID, WireStr, Within
from app.review.notify.report import MAX_DAYS, ReviewReport, build_report
from app.review.pr import records
from app.review.precision import precision_report

bp = Blueprint("reviews", url_prefix="/v1")
PageSize = Annotated[int, Within(1, 200)]
BeforeId = Annotated[int, Within(1, MAX_WIRE_ID)]


class ReviewsQuery(BaseModel):
    repo: WireStr | None = Field(default=None, max_length=300, description="Only this repository's reviews.")
    limit: PageSize | None = Field(default=None, description="Page size; 50 by default.")
    before_id: BeforeId | None = Field(default=None, description="The next_before_id of the previous page.")


class AuditQuery(BaseModel):
    action: WireStr | None = Field(default=None, max_length=40, description="e.g. comment.posted, approval.refused")
    limit: PageSize | None = Field(default=None, description="Page size; 50 by default.")
    before_id: BeforeId | None = Field(default=None, description="The next_before_id of the previous page.")


class ReportQuery(BaseModel):
    repository: WireStr = Field(min_length=3, max_length=300, description="owner/name (GitLab: group/project).")
    days: Annotated[int, Within(1, MAX_DAYS)] = Field(default=7, description="The window, ending now; 7 by default.")


class PrecisionQuery(BaseModel):
    repository: WireStr = Field(min_length=1, max_length=300, description="owner/name (IDE: the repository's name).")


class CategoryPrecisionInfo(Described):
    category: str
    useful: int = Field(description="Signals that the category's comments helped: thumbs up, lines changed.")
    not_useful: int = Field(description="Thumbs down, /adjutant ignore, threads resolved without a change.")
    signals: int
    precision: float = Field(description="(useful + 1) / (signals + 2): a prior of one vote each way.")
    demoted: bool
    threshold: float | None = Field(description="The raised confidence threshold while demoted (raise_threshold).")
    mode: Literal["raise_threshold", "summary_only"] | None = Field(description="What demotion does, while demoted.")
    precision_floor: float
    min_signals: int


class PrecisionInfo(Described):
    repository: str
    categories: list[CategoryPrecisionInfo]


class PermissionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    may_approve: bool = Field(description="The review may approve pull requests through this connection.")
    may_request_changes: bool = Field(description="The review may request changes through this connection.")
    commands_from: Literal["nobody", "author", "anyone"] | None = Field(
        default=None,
        description="Whose /adjutant commands in pull-request comments are obeyed: nobody, the pull request's "
        "author (the default), or anyone who can comment. Omitted: unchanged.",
    )


class ReviewInfo(Described):
    id: int
    platform: Literal["github", "gitlab", "bitbucket"]
    connection: str = Field(description="The connection's id (con_...).")
    repo: str
    number: int
    title: str
    url: str
    head_sha: str = Field(description="The head commit this run reviewed.")
    base_sha: str | None = Field(description="For an incremental run, the head reviewed before it.")
    incremental: bool = Field(description="Only the commits since base_sha were reviewed.")
    trigger: Literal["webhook", "cli"]
    status: Literal["RUNNING", "COMPLETED", "SKIPPED", "FAILED"]
    reason: str | None = Field(description="Why it was skipped or failed.")
    counts: dict[str, int]
    job_id: int | None
    started_at: str
    finished_at: str | None
    duration_ms: int | None


class PostedComment(Described):
    fingerprint: str
    path: str
    line: int
    end_line: int
    severity: str
    category: str
    title: str
    state: Literal["PENDING", "POSTED", "OUTDATED", "RESOLVED", "FAILED"]
    state_reason: str | None = Field(description="Why it is outdated, resolved or failed.")
    platform_id: str | None
    url: str | None


class DroppedFinding(Described):
    finding: dict[str, Any]
    reason: str = Field(description="'<kind>: <details>', e.g. off_diff, duplicate, already_posted.")


class OmittedFile(Described):
    path: str
    reason: str


class ApprovalOutcome(Described):
    decision: Literal["APPROVE", "REQUEST_CHANGES"] | None = Field(description="What the repository's rules ask.")
    done: bool
    refused: str | None = Field(description="Why it was not done.")


class ReviewDetail(ReviewInfo):
    findings: list[dict[str, Any]] = Field(description="Findings that passed validation, with their fingerprints.")
    dropped: list[DroppedFinding]
    omitted: list[OmittedFile]
    files_reviewed: list[str]
    comments: list[PostedComment] = Field(description="The comments this run posted.")
    labels: list[str]
    approval: ApprovalOutcome
    summary_comment_id: str | None


class ReviewPage(Described):
    reviews: list[ReviewInfo]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null on the last one.")


class AuditEventInfo(Described):
    id: int
    actor_type: Literal["user", "bot"]
    actor: str
    action: str
    target_type: str
    target: str
    reason: str
    details: dict[str, Any]
    created_at: str


class AuditPage(Described):
    events: list[AuditEventInfo]
    next_before_id: int | None = Field(description="Pass as before_id for the next page; null on the last one.")


class PermissionsInfo(Described):
    connection: str
    may_approve: bool
    may_request_changes: bool
    commands_from: Literal["nobody", "author", "anyone"]
    updated_at: str | None


@bp.get("/reviews", ctx_auth="required", ctx_client="none")
@documented(
    summary="The team's pull-request reviews, newest first", query=ReviewsQuery, response=ReviewPage, tag="reviews"
)
async def list_reviews(request: Request) -> HTTPResponse:
    query = parse_query(request, ReviewsQuery)
    reviews, next_before = await records.team_runs(
        request.ctx.auth.principal.team_id, limit=query.limit or 50, before_id=query.before_id, repo=query.repo
    )
    return success({"reviews": reviews, "next_before_id": next_before})


@bp.get("/reviews/audit", ctx_auth="required", ctx_client="none")
@documented(
    summary="The team's audit trail, newest first",
    description="Every comment posted, edited, marked outdated or resolved, label added, approval given or "
    "refused, and permission changed, with its actor (a user, or the bot and its connection) and reason.",
    query=AuditQuery,
    response=AuditPage,
    tag="reviews",
)
async def list_audit(request: Request) -> HTTPResponse:
    query = parse_query(request, AuditQuery)
    events, next_before = await records.team_audit(
        request.ctx.auth.principal.team_id, limit=query.limit or 50, before_id=query.before_id, action=query.action
    )
    return success({"events": events, "next_before_id": next_before})


@bp.get("/reviews/report", ctx_auth="required", ctx_client="none")
@documented(
    summary="A repository's review report over the last days",
    description="Reviews run, pull requests reviewed, comments posted by severity and category, comments "
    "resolved and ignored, approvals and requests for changes, and the most commented files, from the team's "
    "own review records. A repository the team never reviewed reports zeros.",
    query=ReportQuery,
    response=ReviewReport,
    tag="reviews",
)
async def review_report(request: Request) -> HTTPResponse:
    query = parse_query(request, ReportQuery)
    report = await build_report(request.ctx.auth.principal.team_id, query.repository, days=query.days)
    return success(report.model_dump())


@bp.get("/reviews/precision", ctx_auth="required", ctx_client="none")
@documented(
    summary="Review precision per category of a repository, from feedback on the review's comments",
    description="Counts of useful and not useful signals per category, the precision with its prior, and "
    "whether the category is demoted (its threshold raised, or its findings listed in the summary only). A "
    "repository the team has no feedback for answers an empty list.",
    query=PrecisionQuery,
    response=PrecisionInfo,
    tag="reviews",
)
async def review_precision(request: Request) -> HTTPResponse:
    query = parse_query(request, PrecisionQuery)
    team_id = request.ctx.auth.principal.team_id
    found = await precision_report(team_id, query.repository, request.app.ctx.settings.review)
    categories = [CategoryPrecisionInfo(signals=c.useful + c.not_useful, **asdict(c)) for c in found]
    return success(PrecisionInfo(repository=query.repository, categories=categories).model_dump())


@bp.get("/reviews/<review_id>", ctx_auth="required", ctx_client="none")
@documented(
    summary="One review: its findings, what it posted, what it dropped and why",
    response=ReviewDetail,
    errors=[404],
    tag="reviews",
)
async def get_review(request: Request, review_id: str) -> HTTPResponse:
    return success(await records.team_run(request.ctx.auth.principal.team_id, review_id))


@bp.get("/reviews/connections/<connection_id>/approvals", ctx_auth="required", ctx_client="none")
@documented(
    summary="Whether the review may approve through a connection", response=PermissionsInfo, errors=[404], tag="reviews"
)
async def get_permissions(request: Request, connection_id: str) -> HTTPResponse:
    return success(await records.connection_permissions(request.ctx.auth.principal.team_id, connection_id))


@bp.put("/reviews/connections/<connection_id>/approvals", ctx_auth="required", ctx_client="none")
@documented(
    summary="Allow or forbid the review to approve, request changes, or obey comment commands through a connection",
    description="Needs the maintainer role. Approving and requesting changes start forbidden: until a maintainer "
    "allows them, a review whose rules ask to approve records that it was refused, and why. Commands in "
    "pull-request comments are obeyed from the pull request's author unless set otherwise.",
    body=PermissionsBody,
    response=PermissionsInfo,
    errors=[403, 404],
    tag="reviews",
)
async def set_permissions(request: Request, connection_id: str) -> HTTPResponse:
    body = parse_body(request, PermissionsBody)
    principal = request.ctx.auth.principal
    await records.connection_permissions(principal.team_id, connection_id)  # another team's id: 404, not 403
    await require_role(principal, "maintainer", action="changing who the review may approve as")
    saved = await records.set_connection_permissions(
        principal.team_id,
        connection_id,
        may_approve=body.may_approve,
        may_request_changes=body.may_request_changes,
        commands_from=body.commands_from,
        user_id=principal.user_id,
        user_name=principal.email,
    )
    return success(saved)
