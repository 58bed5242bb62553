"""Code search over HTTP: index repositories as background jobs, read their status, search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.db.wire_types import WireStr, Within
from app.jobs.queue import JobQueue
from app.search import repositories
from app.search.git_remote import parse_git_url
from app.search.repositories import IndexedRepository, allowed_local_path
from app.search.service import NAME, NAME_RULE, SearchService, valid_repository_name

bp = Blueprint("search", url_prefix="/v1")


class RepositoryBody(BaseModel):
    name: WireStr = Field(pattern=NAME.pattern)
    path: WireStr | None = Field(default=None, max_length=4096)
    git_url: WireStr | None = Field(default=None, max_length=4096)
    force: bool = False  # queue a job even if one seems to be running (e.g. its worker's Redis was wiped)

    @model_validator(mode="after")
    def _one_source(self) -> RepositoryBody:
        if not valid_repository_name(self.name):
            raise ValueError(NAME_RULE)
        if (self.path is None) == (self.git_url is None):
            raise ValueError("give exactly one of path or git_url")
        if self.git_url is not None:
            parse_git_url(self.git_url)  # its ValueError says what is wrong, without echoing the URL
        return self


class SearchQuery(BaseModel):
    q: WireStr = Field(min_length=1, max_length=2000)
    repo: WireStr | None = Field(default=None, max_length=200)
    top_k: Annotated[int, Within(1, 200)] | None = None
    mode: Literal["hybrid", "fts", "vector"] = "hybrid"
    path_prefix: WireStr | None = Field(default=None, max_length=1000)
    language: WireStr | None = Field(default=None, max_length=32)
    rerank: bool | None = None  # default: search.rerank_results


class IndexProgress(Described):
    phase: str
    files_total: int
    files_done: int
    files_changed: int
    files_deleted: int
    chunks: int
    embedded: int
    reused: int
    elapsed_s: float
    eta_s: float | None


class RepositoryInfo(Described):
    id: int
    name: str
    source: str = Field(description="The path or git URL, credentials redacted.")
    source_kind: Literal["local", "git"]
    status: str = Field(description="PENDING, CLONING, INDEXING, READY or FAILED.")
    files: int
    chunks: int
    progress: IndexProgress | None
    embedding_model: str | None
    embedding_dim: int | None
    error: str | None
    indexed_at: str | None


class SearchResult(Described):
    repository: str | None
    path: str
    start_line: int
    end_line: int
    language: str | None
    symbol: str | None
    hierarchy: list[dict[str, Any]]
    score: float
    ranks: dict[str, int] = Field(description="The hit's rank in each retriever (fts, vector, rerank).")
    text: str


class SearchResults(Described):
    results: list[SearchResult]


def describe(repo: IndexedRepository) -> dict[str, object]:
    return {
        "id": repo.id,
        "name": repo.name,
        "source": repositories.shown_source(repo),
        "source_kind": repo.source_kind,
        "status": repo.status,
        "files": repo.file_count,
        "chunks": repo.chunk_count,
        "progress": repo.progress,
        "embedding_model": repo.embedding_model,
        "embedding_dim": repo.embedding_dim,
        "error": repo.error,
        "indexed_at": repo.indexed_at.isoformat() if repo.indexed_at else None,
    }


@bp.post("/repositories", ctx_auth="required", ctx_client="none")
@documented(
    summary="Index a repository in the background",
    description="Answers 202 at once; poll GET /v1/repositories/{repository_id} for the outcome.",
    body=RepositoryBody,
    response=RepositoryInfo,
    status=202,
    errors=[409],
    tag="search",
)
async def create_repository(request: Request) -> HTTPResponse:
    body = parse_body(request, RepositoryBody)
    settings = request.app.ctx.settings
    principal = request.ctx.auth.principal
    credentials = None
    if body.path is not None:
        source, kind = str(allowed_local_path(body.path, settings.search.local_roots)), "local"
    else:
        service: SearchService = request.app.ctx.search
        remote = await service.check_git_url(str(body.git_url))  # refused hosts answer 422 now; the job checks again
        # The credentials leave the URL here and reach the database only sealed.
        credentials = service.seal_credentials(remote.url, team_id=principal.team_id, name=body.name)
        source, kind = remote.url.without_credentials(), "git"
    jobs: JobQueue = request.app.ctx.jobs
    repo = await repositories.register(
        jobs,
        team_id=principal.team_id,
        name=body.name,
        source=source,
        source_kind=kind,
        force=body.force,
        source_credentials=credentials,
    )
    # The row as claimed: a worker may already be indexing it, but this answer reports the acceptance.
    return success(describe(repo), status=202)


@bp.get("/repositories", ctx_auth="required", ctx_client="none")
@documented(summary="The team's repositories", response=list[RepositoryInfo], tag="search")
async def list_repositories(request: Request) -> HTTPResponse:
    return success([describe(r) for r in await repositories.team_repositories(request.ctx.auth.principal.team_id)])


@bp.get("/repositories/<repository_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One repository and its indexing status", response=RepositoryInfo, errors=[404], tag="search")
async def get_repository(request: Request, repository_id: str) -> HTTPResponse:
    return success(describe(await repositories.owned_repository(repository_id, request.ctx.auth.principal)))


@bp.get("/search", ctx_auth="required", ctx_client="none")
@documented(summary="Search the team's code", query=SearchQuery, response=SearchResults, errors=[404], tag="search")
async def search(request: Request) -> HTTPResponse:
    query = parse_query(request, SearchQuery)
    service: SearchService = request.app.ctx.search
    hits, names = await service.search(
        query.q,
        team_id=request.ctx.auth.principal.team_id,
        repos=[query.repo] if query.repo else None,
        top_k=query.top_k,
        mode=query.mode,
        path_prefix=query.path_prefix,
        language=query.language,
        rerank=query.rerank,
    )
    return success({"results": [h.as_dict(names.get(h.repository_id)) for h in hits]})
