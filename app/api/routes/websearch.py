"""POST /end_user/v1/websearch (docs/protocol.md §4.1): the client's web_search tool asks us to search.

Always HTTP 200 for a valid request, also when search is not configured or the provider failed: the
client forwards our whole envelope to the model, which reads why there are no sources.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import OPTIONAL_SESSION_ID, documented
from app.api.session_header import optional_session
from app.api.validation import parse_body
from app.chat.websearch import WebSearch, WebSearchResult
from app.db.wire_types import WireStr

bp = Blueprint("websearch")
QUERY_CHARS = 2000


class WebSearchBody(BaseModel):
    descriptive_query: WireStr = Field(min_length=1, max_length=QUERY_CHARS)

    @field_validator("descriptive_query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the query is blank")
        return value


@bp.post("/end_user/v1/websearch")
@documented(
    summary="Search the web for the client's web_search tool",
    description="200 for every valid request, also when search is not configured or failed (see `error`).",
    body=WebSearchBody,
    response=WebSearchResult,
    headers=[OPTIONAL_SESSION_ID],
    errors=[404],
    tag="websearch",
)
async def websearch(request: Request) -> HTTPResponse:
    body = parse_body(request, WebSearchBody)
    await optional_session(request)
    service: WebSearch = request.app.ctx.websearch
    result: WebSearchResult = await service.search(body.descriptive_query)
    return success(result.model_dump(mode="json"))
