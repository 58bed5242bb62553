"""Session history and session operations (PROTOCOL §4.1, §10): thin adapters over `app.chat.history`."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.validation import parse_query
from app.chat import history
from app.db.models import Session
from app.errors import InvalidRequest

bp = Blueprint("history")


class SessionsQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0)
    sessions_list_type: Literal["PINNED", "UNPINNED"] = "UNPINNED"
    session_type: str | None = Field(default=None, max_length=64)


class PinQuery(BaseModel):
    sessions_list_type: Literal["PINNED", "UNPINNED"]
    pinned_rank: int | None = Field(default=None, ge=0, le=10_000)


async def header_session(request: Request) -> Session:
    """The owned session named by X-Session-ID (any case); missing or foreign is SESSION_NOT_FOUND."""
    return await history.owned_session(request.ctx.auth.principal, request.headers.get("x-session-id"))


@bp.get("/end_user/v1/history/sessions")
async def sessions(request: Request) -> HTTPResponse:
    query = parse_query(request, SessionsQuery)
    return success(
        await history.list_sessions(
            request.ctx.auth.principal,
            pinned=query.sessions_list_type == "PINNED",
            session_type=query.session_type,
            limit=query.limit,
            offset=query.offset,
        )
    )


@bp.get("/end_user/v1/history/chats")
async def chats(request: Request) -> HTTPResponse:
    return success(await history.chats(await header_session(request), request.app.ctx.uploads))


@bp.put("/end_user/v1/history/delete-session")
async def delete_session(request: Request) -> HTTPResponse:
    await history.delete(await header_session(request), request.app.ctx.running)
    return success(None)


@bp.put("/end_user/v1/history/pin-unpin-session")
async def pin_unpin(request: Request) -> HTTPResponse:
    query = parse_query(request, PinQuery)
    await history.pin(
        await header_session(request), pinned=query.sessions_list_type == "PINNED", rank=query.pinned_rank
    )
    return success(None)


@bp.put("/end_user/v1/history/session-dragged")
async def session_dragged(request: Request) -> HTTPResponse:
    try:
        ranks = json.loads(request.body or b"{}")
    except json.JSONDecodeError:
        raise InvalidRequest("the body must be a JSON object of session id to rank") from None
    if not isinstance(ranks, dict):
        raise InvalidRequest("the body must be a JSON object of session id to rank")
    await history.reorder(request.ctx.auth.principal, ranks)
    return success(None)


@bp.post("/end_user/v2/code-gen/cancel")
async def cancel(request: Request) -> HTTPResponse:
    return success(await history.cancel(await header_session(request), request.app.ctx.running))


@bp.post("/end_user/v1/feedbacks/submit")
async def feedback(request: Request) -> HTTPResponse:
    session = await header_session(request)
    return success(
        await history.feedback(
            session, request.ctx.auth.principal, request.headers.get("x-query-id"), request.headers.get("x-feedback")
        )
    )
