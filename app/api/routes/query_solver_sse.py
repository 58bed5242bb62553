"""The query solver over server-sent events, for clients that do not speak WebSocket: the same request
bodies and the same frames (one `data:` line each) as the socket, one answer per HTTP request."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ConfigDict, Field, RootModel
from sanic import Blueprint, Request

from app.api.openapi import DEFERRED, EVENT_STREAM, OPTIONAL_SESSION_ID, SESSION_TYPE, Described, documented
from app.api.validation import json_object
from app.auth.tokens import Authentication
from app.chat.solver import Caller, QuerySolver
from app.chat.wire import ChatRequest, PayloadAttachment, ResumeRequest, direct, request_error
from app.db.ownership import parse_id
from app.errors import InvalidRequest, PayloadTooLarge

bp = Blueprint("query_solver_sse", url_prefix="/v1/query-solver")


class SolverRequest(RootModel[ChatRequest | ResumeRequest | PayloadAttachment]):
    """A new query, tool responses, a resume or a payload attachment: the socket's frames (docs/protocol.md
    §5.2, §5.3)."""

    model_config = DEFERRED


class FrameData(Described):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="STREAM_START, STREAM_ERROR or an event type of docs/protocol.md §5.5.")
    content: dict[str, Any] | None = None


class SolverFrame(Described):
    """One `data:` line: a frame of docs/protocol.md §5.4."""

    model_config = ConfigDict(extra="allow")

    data: FrameData
    message_id: str | None = Field(default=None, description="On step events; send the last one back to resume.")
    stream_timestamp: str | None = None


SSE_DESCRIPTION = (
    "Server-sent events, one frame of docs/protocol.md §5.4 per `data:` line: STREAM_START first, then the "
    "step's events until a terminal frame. Request-level problems arrive as a STREAM_ERROR frame."
)


def _body(request: Request) -> dict[str, Any]:
    """The request body, under the same size bound as a socket frame (docs/protocol.md §5.1)."""
    limit = request.app.ctx.settings.chat.payload_max_bytes
    if len(request.body) > limit:
        raise PayloadTooLarge(f"request bodies are limited to {limit} bytes")
    return json_object(request.body)


async def _answer(request: Request, body: dict[str, Any]) -> None:
    solver: QuerySolver = request.app.ctx.solver
    auth: Authentication = request.ctx.auth
    caller = Caller(
        user_id=auth.principal.user_id,
        team_id=auth.principal.team_id,
        connection_id=uuid.uuid4().hex,
        header_session_id=parse_id(request.headers.get("x-session-id")),
        header_session_type=request.headers.get("x-session-type"),
    )
    answer = await solver.accept(body, caller)
    response = await request.respond(
        content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

    async def send(frame: dict[str, Any]) -> None:
        await response.send(f"data: {json.dumps(frame, separators=(',', ':'))}\n\n")

    start = direct("STREAM_START", **({"new_session_data": auth.replacement} if auth.replacement else {}))
    if not answer.ignore:
        await send(start)
    if answer.error is not None:
        await send(request_error(*answer.error))
    elif answer.follow is not None:
        await solver.follow(answer.follow, answer.after, send)
    await response.eof()


@bp.post("/stream", ctx_auth="required", ctx_client="none")
@documented(
    summary="Ask the query solver, answered as server-sent events",
    description=SSE_DESCRIPTION,
    body=SolverRequest,
    response=SolverFrame,
    media=EVENT_STREAM,
    headers=[OPTIONAL_SESSION_ID, SESSION_TYPE],
    tag="query_solver",
)
async def stream(request: Request) -> None:
    await _answer(request, _body(request))


@bp.post("/tool-response", ctx_auth="required", ctx_client="none")
@documented(
    summary="Send tool results and continue the step, answered as server-sent events",
    description=SSE_DESCRIPTION + " The body needs a non-empty batch_tool_responses.",
    body=ChatRequest,
    response=SolverFrame,
    media=EVENT_STREAM,
    headers=[OPTIONAL_SESSION_ID, SESSION_TYPE],
    tag="query_solver",
)
async def tool_response(request: Request) -> None:
    body = _body(request)
    if not isinstance(body.get("batch_tool_responses"), list) or not body["batch_tool_responses"]:
        raise InvalidRequest("batch_tool_responses must be a non-empty list")
    await _answer(request, body)
