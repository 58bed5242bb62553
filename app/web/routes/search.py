"""Code search with filters and highlighted results; the team's repositories and their indexing progress."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.validation import parse_query
from app.db.wire_types import WireStr
from app.search import repositories
from app.search.service import SearchService
from app.web.access import page
from app.web.highlight import segments
from app.web.rendering import render

bp = Blueprint("web_search", url_prefix="/app")
PAGE_SIZE = 10
MAX_RESULTS = 100
ACTIVE = {"PENDING", "CLONING", "INDEXING"}


class SearchForm(BaseModel):
    q: WireStr | None = Field(default=None, max_length=2000)
    repo: WireStr | None = Field(default=None, max_length=200)
    mode: Literal["hybrid", "fts", "vector"] = "hybrid"
    language: WireStr | None = Field(default=None, max_length=32)
    path_prefix: WireStr | None = Field(default=None, max_length=1000)
    offset: int = Field(default=0, ge=0, le=MAX_RESULTS)

    @field_validator("q", "repo", "language", "path_prefix")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


@bp.get("/search")
@page()
async def search(request: Request) -> HTTPResponse:
    form = parse_query(request, SearchForm)
    team_id = request.ctx.web.principal.team_id
    repos = await repositories.team_repositories(team_id)
    results: list[dict[str, object]] = []
    has_more = False
    if form.q:
        service: SearchService = request.app.ctx.search
        hits, names = await service.search(
            form.q,
            team_id=team_id,
            repos=[form.repo] if form.repo else None,
            top_k=form.offset + PAGE_SIZE + 1,
            mode=form.mode,
            path_prefix=form.path_prefix,
            language=form.language,
            rerank=False,  # a page of results should not wait for a model call
        )
        window = hits[form.offset : form.offset + PAGE_SIZE]
        has_more = len(hits) > form.offset + PAGE_SIZE
        results = [h.as_dict(names.get(h.repository_id)) | {"segments": segments(h.text, form.q)} for h in window]
    return render(
        request,
        "search.html",
        title="Code search",
        form=form,
        repositories=repos,
        results=results,
        has_more=has_more,
        page_size=PAGE_SIZE,
    )


@bp.get("/repositories")
@page()
async def repository_list(request: Request) -> HTTPResponse:
    repos = await repositories.team_repositories(request.ctx.web.principal.team_id)
    return render(
        request,
        "repositories.html",
        title="Repositories",
        repositories=repos,
        active=ACTIVE,
        source=repositories.shown_source,
    )


@bp.get("/repositories/<repository_id>/status")
@page()
async def repository_status(request: Request, repository_id: str) -> HTTPResponse:
    """One repository's row, polled by the page while it indexes (htmx stops polling once it is done)."""
    repo = await repositories.owned_repository(repository_id, request.ctx.web.principal)
    return render(request, "fragments/repository_row.html", repo=repo, active=ACTIVE, source=repositories.shown_source)
