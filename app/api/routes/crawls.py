"""Repository crawls over HTTP (docs/answers.md#crawling): start one from a connection (a job), follow its
progress, list the team's recent ones. Another team's crawl or connection answers 404, exactly like an unknown
one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body
from app.search.crawl.job import CrawlRequest, Crawls

bp = Blueprint("crawls", url_prefix="/v1")


class CrawlProgress(Described):
    listed: int
    filtered: int = Field(description="Left out by the filters; filtered_reasons counts them by reason.")
    filtered_reasons: dict[str, int]
    skipped: int = Field(description="Refused (a clone URL on another host, an empty repository, a name clash).")
    unchanged: int = Field(description="Their head is the commit last indexed: nothing to do.")
    queued: int = Field(description="Index jobs queued and not finished yet.")
    indexed: int
    failed: int
    pauses: int = Field(description="Times a rate limit of the service paused the crawl.")


class CrawledRepository(Described):
    full_name: str
    state: Literal["FILTERED", "SKIPPED", "UNCHANGED", "QUEUED", "INDEXED", "FAILED"]
    skipped_reason: str | None
    head_commit: str | None
    last_indexed_commit: str | None
    repository_id: int | None = Field(description="The indexed repository (GET /v1/repositories/{id}).")
    error: str | None


class CrawlView(Described):
    id: int
    status: Literal["QUEUED", "LISTING", "PAUSED", "INDEXING", "SUCCEEDED", "FAILED"]
    connection: str | None
    scope: dict[str, Any]
    filters: dict[str, Any]
    job_id: int | None
    progress: CrawlProgress
    error: str | None
    resume_at: str | None = Field(description="When a paused crawl goes on.")
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    repositories: list[CrawledRepository] | None = None


class CrawlList(Described):
    crawls: list[CrawlView]


def _crawls(request: Request) -> Crawls:
    return request.app.ctx.crawls


@bp.post("/crawls", ctx_auth="required", ctx_client="none")
@documented(
    summary="Crawl repositories of a connection",
    description="Lists the scope's repositories through the connection (by org, group, workspace, topic or "
    "names), leaves out what the filters exclude and queues one index job per repository whose head moved since "
    "it was last indexed. Poll GET /v1/crawls/{id}.",
    body=CrawlRequest,
    response=CrawlView,
    status=202,
    errors=[404, 422],
    tag="search",
)
async def start_crawl(request: Request) -> HTTPResponse:
    ask = parse_body(request, CrawlRequest)
    principal = request.ctx.auth.principal
    return success(await _crawls(request).request(principal.team_id, principal.user_id, ask), status=202)


@bp.get("/crawls", ctx_auth="required", ctx_client="none")
@documented(summary="The team's recent crawls, newest first", response=CrawlList, tag="search")
async def list_crawls(request: Request) -> HTTPResponse:
    return success({"crawls": await _crawls(request).recent(request.ctx.auth.principal.team_id)})


@bp.get("/crawls/<crawl_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One crawl, its progress and its repositories", response=CrawlView, errors=[404], tag="search")
async def get_crawl(request: Request, crawl_id: str) -> HTTPResponse:
    return success(await _crawls(request).get(request.ctx.auth.principal.team_id, crawl_id))
