"""Code search over HTTP: index repositories as background jobs, read their status, search."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import documented
from app.api.validation import parse_body, parse_query
from app.db.models import Repository
from app.db.ownership import get_owned
from app.db.repositories import code as store
from app.errors import Conflict, InvalidRequest
from app.jobs.queue import JobQueue
from app.runtime.stack import redact_url
from app.search.indexer import Progress
from app.search.service import GIT_URL, NAME, SearchService

bp = Blueprint("search", url_prefix="/v1")
ACTIVE = ("PENDING", "CLONING", "INDEXING")


class RepositoryBody(BaseModel):
    name: str = Field(pattern=NAME.pattern)
    path: str | None = None
    git_url: str | None = None
    force: bool = False  # queue a job even if one seems to be running (e.g. its worker's Redis was wiped)

    @model_validator(mode="after")
    def _one_source(self) -> RepositoryBody:
        if (self.path is None) == (self.git_url is None):
            raise ValueError("give exactly one of path or git_url")
        if self.git_url is not None and not GIT_URL.match(self.git_url):
            raise ValueError("git_url must be http(s)://, ssh:// or git@")
        return self


class SearchQuery(BaseModel):
    q: str = Field(min_length=1, max_length=2000)
    repo: str | None = None
    top_k: int | None = Field(default=None, ge=1, le=200)
    mode: Literal["hybrid", "fts", "vector"] = "hybrid"
    path_prefix: str | None = Field(default=None, max_length=1000)
    language: str | None = Field(default=None, max_length=32)
    rerank: bool | None = None  # default: search.rerank_results


class IndexProgress(BaseModel):
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


class RepositoryInfo(BaseModel):
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


class SearchResult(BaseModel):
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


class SearchResults(BaseModel):
    results: list[SearchResult]


def describe(repo: Repository) -> dict[str, object]:
    return {
        "id": repo.id,
        "name": repo.name,
        "source": redact_url(repo.source),
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


def allowed_local_path(raw: str, roots: tuple[str, ...]) -> Path:
    path = Path(raw).expanduser().resolve()
    if not roots:
        raise InvalidRequest(
            "indexing server paths over HTTP is disabled (search.local_roots); use git_url "
            "or the adjutant index command"
        )
    if not any(path == Path(r).expanduser().resolve() or Path(r).expanduser().resolve() in path.parents for r in roots):
        raise InvalidRequest("that path is outside the directories this server may index (search.local_roots)")
    if not path.is_dir():
        raise InvalidRequest("that path is not a directory on the server")
    return path


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
    if body.path is not None:
        source, kind = str(allowed_local_path(body.path, settings.search.local_roots)), "local"
    else:
        source, kind = str(body.git_url), "git"
    existing = await Repository.get_or_none(team_id=principal.team_id, name=body.name)
    if existing is not None and existing.status in ACTIVE and not body.force:
        raise Conflict(
            f"{body.name} is already {existing.status.lower()}; poll GET /v1/repositories/{existing.id}, "
            "or send force=true if that job was lost"
        )
    repo = await store.get_or_create_repository(
        team_id=principal.team_id, name=body.name, source=source, source_kind=kind
    )
    await store.set_status(repo.id, "PENDING", progress=None, error=None)
    # Described before the job is queued: a worker may pick it up before this response is written.
    accepted = describe(await Repository.get(id=repo.id))
    jobs: JobQueue = request.app.ctx.jobs
    await jobs.enqueue("index_repository", {"repository_id": repo.id})
    return success(accepted, status=202)


@bp.get("/repositories", ctx_auth="required", ctx_client="none")
@documented(summary="The team's repositories", response=list[RepositoryInfo], tag="search")
async def list_repositories(request: Request) -> HTTPResponse:
    return success([describe(r) for r in await store.list_repositories(request.ctx.auth.principal.team_id)])


@bp.get("/repositories/<repository_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One repository and its indexing status", response=RepositoryInfo, errors=[404], tag="search")
async def get_repository(request: Request, repository_id: str) -> HTTPResponse:
    return success(describe(await get_owned(Repository, repository_id, request.ctx.auth.principal)))


@bp.get("/search", ctx_auth="required", ctx_client="none")
@documented(summary="Search the team's code", query=SearchQuery, response=SearchResults, tag="search")
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


async def run_index_job(service: SearchService, payload: dict[str, object]) -> None:
    """The job handler: index the repository row's source (its outcome is on the row)."""
    repo = await Repository.get_or_none(id=payload["repository_id"])
    if repo is None:
        return
    saver = _ProgressSaver(repo.id)
    try:
        if repo.source_kind == "git":
            await store.set_status(repo.id, "CLONING", error=None)
            await service.index_git(repo.source, team_id=repo.team_id, name=repo.name, on_progress=saver)
        else:
            await service.index_path(Path(repo.source), team_id=repo.team_id, name=repo.name, on_progress=saver)
    except Exception as exc:
        # The indexer records its own failures; this also covers the clone, which runs before it.
        await saver.settle()
        message = redact_url(f"{exc.__class__.__name__}: {exc}")[:2000]
        await store.set_status(repo.id, "FAILED", error=message)
        raise
    await saver.settle()


class _ProgressSaver:
    """Writes indexing progress to the repository row at most once a second, without blocking indexing."""

    def __init__(self, repo_id: int) -> None:
        self.repo_id = repo_id
        self.last = 0.0
        self.pending: set[asyncio.Task[object]] = set()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 1.0:
            return
        self.last = now
        task = asyncio.get_running_loop().create_task(self._save(progress.as_dict()))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _save(self, snapshot: dict[str, object]) -> None:
        await Repository.filter(id=self.repo_id).update(progress=snapshot)

    async def settle(self) -> None:
        """Wait for writes in flight, so a late one cannot overwrite the final status's progress."""
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
