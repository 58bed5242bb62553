"""Grounded answers over HTTP: `POST /v1/answer` (one JSON answer) and `POST /v1/answer/stream` (server-sent
events: `sources` first, then `delta` events, then `final` with the citations check and usage; a failure
after the sources is an `error` event, and the stream ends after either)."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.answers.events import (
    AnswerEvent,
    AnswerSource,
    AnswerUsage,
    CitationReport,
    DeltaEvent,
    ErrorEvent,
    FinalEvent,
    SourcesEvent,
)
from app.answers.passages import Filters, SourceKind
from app.answers.prompt import ResponseType
from app.answers.service import Answers, Question
from app.api.envelopes import success
from app.api.openapi import DEFERRED, EVENT_STREAM, Described, documented
from app.api.validation import parse_body
from app.db.wire_types import WireStr, Within
from app.errors import LLMError

bp = Blueprint("answers", url_prefix="/v1")


class AnswerBody(BaseModel):
    query: WireStr = Field(min_length=1, max_length=4000)
    sources: list[SourceKind] | None = Field(
        default=None, min_length=1, max_length=3, description="Kinds of source to draw on; default every one."
    )
    repositories: list[Annotated[WireStr, Field(max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=20, description="Code indexes by name; default all of the team's."
    )
    path_prefix: WireStr | None = Field(default=None, max_length=1000)
    language: WireStr | None = Field(default=None, max_length=32)
    response_type: ResponseType = "explain"
    max_results: Annotated[int, Within(1, 20)] = 8
    include_sources: bool = Field(default=True, description="Return each source's text (else only where it is).")


class AnswerResult(Described):
    answer: str = Field(description="The answer; its [n] markers refer to `sources` by number.")
    answered: bool = Field(description="False: nothing relevant was found and no model was asked.")
    sources: list[AnswerSource]
    best_relevance: float | None
    citations: CitationReport
    model: str | None
    usage: AnswerUsage
    finish: str | None


class AnswerStreamEvent(RootModel[SourcesEvent | DeltaEvent | FinalEvent | ErrorEvent]):
    """The `data:` of one event; its `event:` name is the `event` field."""

    model_config = DEFERRED


def _question(request: Request) -> Question:
    body = parse_body(request, AnswerBody)
    return Question(
        query=body.query,
        team_id=request.ctx.auth.principal.team_id,
        response_type=body.response_type,
        max_results=body.max_results,
        kinds=body.sources,
        filters=Filters(body.repositories, body.path_prefix, body.language),
        include_sources=body.include_sources,
    )


@bp.post("/answer", ctx_auth="required", ctx_client="none")
@documented(
    summary="Answer a question from the team's sources, with citations",
    description="Unknown repository names answer 404; no relevant source answers `answered: false` without "
    "a model call.",
    body=AnswerBody,
    response=AnswerResult,
    errors=[404, 502, 503],
    tag="answers",
)
async def answer(request: Request) -> HTTPResponse:
    answers: Answers = request.app.ctx.answers
    prepared = await answers.prepare(_question(request))
    sources: SourcesEvent | None = None
    final: FinalEvent | None = None
    text: list[str] = []
    async for event in answers.events(prepared):
        if isinstance(event, SourcesEvent):
            sources = event
        elif isinstance(event, DeltaEvent):
            text.append(event.text)
        elif isinstance(event, FinalEvent):
            final = event
        elif isinstance(event, ErrorEvent):
            raise LLMError(event.message)
    assert sources is not None and final is not None
    return success(
        AnswerResult(
            answer="".join(text),
            answered=final.answered,
            sources=sources.sources,
            best_relevance=sources.best_relevance,
            citations=final.citations,
            model=final.model,
            usage=final.usage,
            finish=final.finish,
        ).model_dump(mode="json")
    )


@bp.post("/answer/stream", ctx_auth="required", ctx_client="none")
@documented(
    summary="Answer a question from the team's sources, streamed as server-sent events",
    description="`sources` first, then `delta` events, then `final` (citations, usage) or `error`; the stream "
    "ends after either. Bad input and unknown repositories are HTTP errors before the stream starts.",
    body=AnswerBody,
    response=AnswerStreamEvent,
    media=EVENT_STREAM,
    errors=[404],
    tag="answers",
)
async def answer_stream(request: Request) -> None:
    answers: Answers = request.app.ctx.answers
    prepared = await answers.prepare(_question(request))
    response = await request.respond(
        content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    events = answers.events(prepared)
    try:
        async for event in events:
            await response.send(_frame(event))
    finally:
        await events.aclose()
    await response.eof()


def _frame(event: AnswerEvent) -> str:
    return f"event: {event.event}\ndata: {json.dumps(event.model_dump(mode='json'), separators=(',', ':'))}\n\n"
