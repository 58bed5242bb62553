"""The knowledge store over HTTP (docs/answers.md#knowledge-sources): import Q&A or documentation (a job per
import), follow an import, list the team's sources, search them. Another team's import answers 404, exactly
like an unknown one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.db.wire_types import WireStr, Within
from app.knowledge import search
from app.knowledge.imports import KnowledgeImports, describe_import, describe_source
from app.knowledge.specs import ImportSpec

bp = Blueprint("knowledge", url_prefix="/v1")
Kind = Literal["doc", "qa", "qa_code"]


class ImportRequest(RootModel[ImportSpec]):
    """One of: stackexchange, dump, docs, faq, urls, confluence, discussions (the `kind` field decides)."""


class Source(Described):
    id: int
    name: str
    kind: str
    config: dict[str, Any] = Field(description="What its imports read (the import request without its name).")
    document_count: int
    chunk_count: int
    created_at: str | None
    last_imported_at: str | None


class ImportView(Described):
    id: int
    status: Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"]
    source: Source | None
    job_id: int | None = Field(description="The job running it (GET /v1/jobs/{job_id}).")
    progress: dict[str, Any] = Field(
        description="seen, created, updated, unchanged, chunks, embedded, reused, pruned, and what the source "
        "reported (failed URLs, api_calls, quota_remaining, backoff_waited_s)."
    )
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class ImportList(Described):
    imports: list[ImportView]


class SourceList(Described):
    sources: list[Source]


class SearchQuery(BaseModel):
    q: WireStr = Field(min_length=1, max_length=2000, description="What to look for.")
    kinds: str | None = Field(
        default=None,
        pattern=r"^(doc|qa|qa_code)(,(doc|qa|qa_code))*$",
        description="Comma-separated: doc, qa, qa_code; all by default.",
    )
    limit: Annotated[int, Within(1, 50)] | None = Field(default=None, description="10 by default.")


class Hit(Described):
    chunk_id: int
    kind: Kind
    title: str
    url: str | None
    text: str
    score: float
    source: str
    source_kind: str
    language: str | None
    section: str | None
    attribution: dict[str, Any] | None = Field(description="Show it with the text (Stack Overflow: CC BY-SA).")
    qa: dict[str, Any] | None
    ranks: dict[str, int]


class HitList(Described):
    hits: list[Hit]


def _imports(request: Request) -> KnowledgeImports:
    return request.app.ctx.knowledge


@bp.post("/knowledge/imports", ctx_auth="required", ctx_client="none")
@documented(
    summary="Import Q&A or documentation into the team's knowledge",
    description="Checks what the request names (a repository, a server path inside search.local_roots, a "
    "connection), registers the source (the same name again is the same source: a re-import updates what "
    "changed) and queues the import. Poll GET /v1/knowledge/imports/{id}.",
    body=ImportRequest,
    response=ImportView,
    status=202,
    errors=[404, 409, 422],
    tag="knowledge",
)
async def create_import(request: Request) -> HTTPResponse:
    spec = parse_body(request, ImportRequest).root
    principal = request.ctx.auth.principal
    run, source = await _imports(request).request(principal.team_id, principal.user_id, spec)
    return success(describe_import(run, source), status=202)


@bp.get("/knowledge/imports", ctx_auth="required", ctx_client="none")
@documented(summary="The team's recent knowledge imports, newest first", response=ImportList, tag="knowledge")
async def list_imports(request: Request) -> HTTPResponse:
    runs = await _imports(request).recent(request.ctx.auth.principal.team_id)
    return success({"imports": [describe_import(run, source) for run, source in runs]})


@bp.get("/knowledge/imports/<import_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One knowledge import and its progress", response=ImportView, errors=[404], tag="knowledge")
async def get_import(request: Request, import_id: str) -> HTTPResponse:
    run, source = await _imports(request).get(request.ctx.auth.principal.team_id, import_id)
    return success(describe_import(run, source))


@bp.get("/knowledge/sources", ctx_auth="required", ctx_client="none")
@documented(summary="The team's knowledge sources with their sizes", response=SourceList, tag="knowledge")
async def list_sources(request: Request) -> HTTPResponse:
    sources = await _imports(request).sources(request.ctx.auth.principal.team_id)
    return success({"sources": [describe_source(s) for s in sources]})


@bp.get("/knowledge/search", ctx_auth="required", ctx_client="none")
@documented(summary="Search the team's knowledge (hybrid)", query=SearchQuery, response=HitList, tag="knowledge")
async def search_knowledge(request: Request) -> HTTPResponse:
    query = parse_query(request, SearchQuery)
    kinds = query.kinds.split(",") if query.kinds else None
    hits = await search(request.ctx.auth.principal.team_id, query.q, kinds=kinds, limit=query.limit or 10)
    return success({"hits": [h.as_dict() for h in hits]})
