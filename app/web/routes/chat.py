"""The chat playground and the session history: the same query solver and history services as the
extension's SSE route (docs/protocol.md §5, §9, §10), authenticated by the browser session."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.validation import parse_body, parse_query
from app.chat import history
from app.chat.solver import Caller, QuerySolver
from app.chat.wire import direct, request_error
from app.db.wire_types import Int32, WireStr
from app.errors import PayloadTooLarge
from app.llm.registry import ModelRegistry
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_chat", url_prefix="/app")
PAGE_SIZE = 20


class ChatTurn(BaseModel):
    query: WireStr = Field(min_length=1, max_length=20_000)
    llm_model: WireStr | None = Field(default=None, max_length=200)
    session_id: Int32 | None = Field(default=None, ge=1)


class SessionRef(BaseModel):
    session_id: Int32 = Field(ge=1)


class SessionsPage(BaseModel):
    offset: Int32 = Field(default=0, ge=0)


class ChatPage(BaseModel):
    session: WireStr | None = Field(default=None, max_length=20)


def _models(request: Request) -> list[dict[str, Any]]:
    registry: ModelRegistry = request.app.ctx.models
    default = registry.default().name
    return [{"name": m.name, "label": m.spec.display_name, "default": m.name == default} for m in registry.picker()]


@bp.get("/chat")
@page()
async def playground(request: Request) -> HTTPResponse:
    query = parse_query(request, ChatPage)
    session, elements = None, []
    if query.session:  # continuing a past session: its id must be the caller's (foreign ids are 404)
        session = await history.owned_session(request.ctx.web.principal, query.session)
        elements = await history.chats(session, request.app.ctx.uploads)
    return render(request, "chat.html", title="Chat", models=_models(request), chat=session, elements=elements)


@bp.post("/chat/stream")
@page()
async def stream(request: Request) -> None:
    """One turn, answered as server-sent events: the frames of docs/protocol.md §5.4, one `data:` line each."""
    limit = request.app.ctx.settings.chat.payload_max_bytes
    if len(request.body) > limit:
        raise PayloadTooLarge(f"a message is limited to {limit} bytes")
    turn = parse_body(request, ChatTurn)
    principal = request.ctx.web.principal
    if turn.session_id is not None:
        await history.owned_session(principal, turn.session_id)  # a foreign session is a 404 page, not a frame
    body: dict[str, Any] = {"query": turn.query}
    if turn.llm_model:
        body["llm_model"] = turn.llm_model
    if turn.session_id is not None:
        body["session_id"] = turn.session_id
    solver: QuerySolver = request.app.ctx.solver
    caller = Caller(user_id=principal.user_id, team_id=principal.team_id, connection_id=uuid.uuid4().hex)
    answer = await solver.accept(body, caller)
    response = await request.respond(
        content_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )

    async def send(frame: dict[str, Any]) -> None:
        await response.send(f"data: {json.dumps(frame, separators=(',', ':'))}\n\n")

    await send(direct("STREAM_START"))
    if answer.error is not None:
        await send(request_error(*answer.error))
    elif answer.follow is not None:
        await solver.follow(answer.follow, answer.after, send)
    await response.eof()


@bp.post("/chat/cancel")
@page()
async def cancel(request: Request) -> HTTPResponse:
    ref = parse_body(request, SessionRef)
    session = await history.owned_session(request.ctx.web.principal, ref.session_id)
    outcome = await history.cancel(session, request.app.ctx.running)
    return render(request, "fragments/cancelled.html", steps=outcome["cancelled_steps"])


@bp.get("/sessions")
@page()
async def sessions(request: Request) -> HTTPResponse:
    query = parse_query(request, SessionsPage)
    principal = request.ctx.web.principal
    listed = await history.list_sessions(
        principal, pinned=False, session_type=None, limit=PAGE_SIZE, offset=query.offset
    )
    pinned = await history.list_sessions(principal, pinned=True, session_type=None, limit=PAGE_SIZE, offset=0)
    return render(
        request,
        "sessions.html",
        title="Sessions",
        pinned=pinned["sessions"] if query.offset == 0 else [],
        sessions=listed["sessions"],
        offset=query.offset,
        page_size=PAGE_SIZE,
        has_more=listed["has_more"],
    )


@bp.get("/sessions/<session_id>")
@page()
async def session_history(request: Request, session_id: str) -> HTTPResponse:
    session = await history.owned_session(request.ctx.web.principal, session_id)
    elements = await history.chats(session, request.app.ctx.uploads)
    return render(
        request, "session.html", title=session.summary or f"Session {session.id}", chat=session, elements=elements
    )
