"""The symbol graph over HTTP: where a symbol is defined and used, what calls it, what it calls."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_query
from app.db.wire_types import WireStr, Within
from app.search.graph import questions

bp = Blueprint("graph", url_prefix="/v1/graph")


class GraphQuery(Described):
    repository: WireStr = Field(min_length=1, max_length=200)
    symbol: WireStr = Field(min_length=1, max_length=500, description="A bare or dotted qualified name.")
    offset: Annotated[int, Within(0, 1_000_000)] = 0
    limit: Annotated[int, Within(1, 200)] = 50


class SymbolInfo(Described):
    qualified: str
    name: str
    kind: str
    path: str
    start_line: int
    end_line: int


class SiteInfo(Described):
    kind: str = Field(description="call, import or use.")
    name: str = Field(description="The name as written at the site.")
    path: str
    line: int
    source: str = Field(description="The qualified name of the definition the site is in.")
    target: str | None = Field(description="What the site's imports or scope say it points at.")
    resolved: bool
    definition: SymbolInfo | None


class GraphPage(Described):
    repository: str
    symbol: str
    ambiguous: bool = Field(description="The bare name matched several definitions: pick one of `candidates`.")
    candidates: list[SymbolInfo]
    items: list[SymbolInfo] | list[SiteInfo]
    total: int
    offset: int
    limit: int
    next_offset: int | None


def _route(question: questions.Question, summary: str) -> None:
    async def handler(request: Request) -> HTTPResponse:
        query = parse_query(request, GraphQuery)
        page = await questions.ask(
            question,
            team_id=request.ctx.auth.principal.team_id,
            repository=query.repository,
            symbol=query.symbol,
            offset=query.offset,
            limit=query.limit,
        )
        return success(page.as_dict())

    handler.__name__ = question
    decorated = documented(summary=summary, query=GraphQuery, response=GraphPage, errors=[404], tag="search")(handler)
    bp.get(f"/{question}", ctx_auth="required", ctx_client="none", name=question)(decorated)


_route("definitions", "Where a symbol is defined")
_route("references", "Where a symbol is used (calls, imports, other uses)")
_route("callers", "What calls a symbol")
_route("callees", "What a symbol calls")
