"""Direct model access for our own clients: the models usable here, and one streamed completion.

`POST /v1/llm/stream` answers with server-sent events, one per provider-neutral event (`route`,
`text_delta`, `thinking_delta`, `tool_call_*`, `usage`, `finish` or `error`), then `done`. Failures before
the first event are ordinary HTTP errors (429 LLM_THROTTLED with Retry-After, 422
INPUT_TOKEN_LIMIT_EXCEEDED, 502 PROVIDER_ERROR, 503 MODEL_UNAVAILABLE); after it, an `error` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import DEFERRED, EVENT_STREAM, Described, documented
from app.api.routes.configs import ModelPickerEntry
from app.api.validation import parse_body
from app.db.wire_types import WireStr, Within
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.llm.types import LLMEvent, LLMRequest, Message, ReasoningLevel, TextPart

bp = Blueprint("llm", url_prefix="/v1/llm")
MAX_MESSAGES = 200
MAX_CONTENT_CHARS = 2_000_000


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: WireStr = Field(max_length=MAX_CONTENT_CHARS)


class StreamBody(BaseModel):
    model: WireStr | None = Field(default=None, max_length=128)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_output_tokens: Annotated[int, Within(1, 200_000)] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    reasoning: ReasoningLevel | None = None


class UsableModel(ModelPickerEntry):
    output_token_limit: int
    providers: list[str] = Field(description="The providers that can serve it, in fallback order.")


class UsableModels(Described):
    default: str | None = Field(description="The model used when a request names none; null if none is usable.")
    models: list[UsableModel]


class StreamEvent(RootModel[LLMEvent]):
    """The `data:` of one event; its `event:` name is the `kind` field. A final `done` event has data {}."""

    model_config = DEFERRED


@bp.get("/models", ctx_auth="required", ctx_client="none")
@documented(summary="The models usable on this server", response=UsableModels, tag="llm")
async def models(request: Request) -> HTTPResponse:
    registry: ModelRegistry = request.app.ctx.models
    usable = [m for m in registry.models.values() if m.available]
    return success(
        {
            "default": registry.default().name if usable else None,
            "models": [
                {
                    **m.picker_entry(),
                    "output_token_limit": m.spec.output_token_limit,
                    "providers": [r.provider for r in m.routes],
                }
                for m in usable
            ],
        }
    )


@bp.post("/stream", ctx_auth="required", ctx_client="none")
@documented(
    summary="One streamed completion",
    description="Server-sent events, one per provider-neutral event, then `done`. Failures before the first "
    "event are HTTP errors; after it, an `error` event ends the stream.",
    body=StreamBody,
    response=StreamEvent,
    media=EVENT_STREAM,
    errors=[429, 502, 503],
    tag="llm",
)
async def stream(request: Request) -> HTTPResponse | None:
    body = parse_body(request, StreamBody)
    registry: ModelRegistry = request.app.ctx.models
    model, _ = registry.resolve(body.model)
    llm_request = LLMRequest(
        model=model.name,
        messages=tuple(_message(m) for m in body.messages),
        max_output_tokens=body.max_output_tokens,
        temperature=body.temperature,
        reasoning=body.reasoning,
        purpose="api",
    )
    router: LLMRouter = request.app.ctx.llm
    events = router.stream(llm_request)
    try:
        first = await anext(events)  # failures before any output become HTTP errors
        response = await request.respond(
            content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await _relay(response, first, events)
        await response.eof()
    finally:
        await events.aclose()
    return None


async def _relay(response: HTTPResponse, first: LLMEvent, events: AsyncIterator[LLMEvent]) -> None:
    """Send every event, then `done`. A write per event would cost more than the rest of the relay, so frames
    that arrive while a write is in flight (a provider's burst, one network read) leave in one write; a
    lone event is still sent the moment it arrives."""
    pending = [_frame(first)]
    ready = asyncio.Event()
    ready.set()
    finished = False

    async def produce() -> None:
        nonlocal finished
        try:
            async for event in events:
                pending.append(_frame(event))
                ready.set()
            pending.append("event: done\ndata: {}\n\n")
        finally:
            finished = True
            ready.set()

    producer = asyncio.create_task(produce())
    try:
        while not (finished and not pending):
            await ready.wait()
            ready.clear()
            if pending:
                data = "".join(pending)
                pending.clear()
                await response.send(data)
        await producer  # its failure, if any, is ours
    finally:
        if not producer.done():
            producer.cancel()  # the client went away: stop reading the provider
            await asyncio.gather(producer, return_exceptions=True)


def _message(message: ChatMessage) -> Message:
    if message.role == "system":
        return Message.system(message.content)
    if message.role == "user":
        return Message.user(message.content)
    return Message.assistant(TextPart(text=message.content))


def _frame(event: LLMEvent) -> str:
    kind = event.kind
    if kind == "text_delta" or kind == "thinking_delta":  # most events: the same bytes, without a model dump
        return f'event: {kind}\ndata: {{"kind": "{kind}", "text": {json.dumps(event.text)}}}\n\n'  # type: ignore[union-attr]
    return f"event: {kind}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
