"""Session history and session operations (docs/protocol.md §4.1, §10): thin adapters over `app.chat.history`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import SESSION_ID, Described, Header, documented
from app.api.validation import parse_body, parse_query
from app.chat import history
from app.db.wire_types import Int32, WireIdText, WireStr, Within

bp = Blueprint("history")


class SessionsQuery(BaseModel):
    limit: Int32 = Field(default=20, ge=1, le=100)
    offset: Int32 = Field(default=0, ge=0)
    sessions_list_type: Literal["PINNED", "UNPINNED"] = "UNPINNED"
    session_type: WireStr | None = Field(default=None, max_length=64)


class PinQuery(BaseModel):
    sessions_list_type: Literal["PINNED", "UNPINNED"]
    pinned_rank: Annotated[int, Within(0, 10_000)] | None = None


class SessionItem(Described):
    id: int
    summary: str
    age: str = Field(description='Since updated_at: "42s", "5m", "3h" or "2d".')
    pinned_rank: int | None
    created_at: str
    updated_at: str


class SessionPage(Described):
    sessions: list[SessionItem]
    has_more: bool


class MessageData(Described):
    """The fields of one element, by message_type (docs/protocol.md §10.2): TEXT, THINKING, TOOL_USE,
    CODE_BLOCK, INFO, TASK_PLAN, TASK_COMPLETION."""

    model_config = ConfigDict(extra="allow")

    message_type: str


class ChatElement(Described):
    actor: Literal["USER", "ASSISTANT", "SYSTEM"]
    message_data: MessageData
    timestamp: str


class SessionRanks(RootModel[dict[WireIdText, Int32]]):
    """Session id (as a string) to its new pinned rank."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})


class Cancelled(Described):
    status: Literal["SUCCESS"]
    cancelled_session_id: int
    cancelled_steps: int


class FeedbackRecorded(Described):
    query_id: int
    feedback: Literal["UPVOTE", "DOWNVOTE"]


QUERY_ID = Header("X-Query-ID", "The user query the feedback is about; it must belong to the session.")
FEEDBACK = Header("X-Feedback", "The vote.", schema={"type": "string", "enum": ["UPVOTE", "DOWNVOTE"]})


async def header_session(request: Request) -> history.ChatSession:
    """The owned session named by X-Session-ID (any case); missing or foreign is SESSION_NOT_FOUND."""
    return await history.owned_session(request.ctx.auth.principal, request.headers.get("x-session-id"))


@bp.get("/end_user/v1/history/sessions")
@documented(summary="List sessions (docs/protocol.md §10.1)", query=SessionsQuery, response=SessionPage, tag="history")
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
@documented(
    summary="A session's chat elements (docs/protocol.md §10.2)",
    response=list[ChatElement],
    headers=[SESSION_ID],
    errors=[404],
    tag="history",
)
async def chats(request: Request) -> HTTPResponse:
    return success(await history.chats(await header_session(request), request.app.ctx.uploads))


@bp.put("/end_user/v1/history/delete-session")
@documented(
    summary="Delete a session (and cancel its running step)",
    response=None,
    headers=[SESSION_ID],
    errors=[404],
    tag="history",
)
async def delete_session(request: Request) -> HTTPResponse:
    await history.delete(await header_session(request), request.app.ctx.running)
    return success(None)


@bp.put("/end_user/v1/history/pin-unpin-session")
@documented(
    summary="Pin or unpin a session",
    description="PINNED needs pinned_rank; at most 5 sessions can be pinned (409 beyond).",
    query=PinQuery,
    response=None,
    headers=[SESSION_ID],
    errors=[404, 409],
    tag="history",
)
async def pin_unpin(request: Request) -> HTTPResponse:
    query = parse_query(request, PinQuery)
    await history.pin(
        await header_session(request), pinned=query.sessions_list_type == "PINNED", rank=query.pinned_rank
    )
    return success(None)


@bp.put("/end_user/v1/history/session-dragged")
@documented(
    summary="Reorder pinned sessions",
    description="Every key must be an owned session id, or nothing changes.",
    body=SessionRanks,
    response=None,
    errors=[404],
    tag="history",
)
async def session_dragged(request: Request) -> HTTPResponse:
    ranks = parse_body(request, SessionRanks)
    await history.reorder(request.ctx.auth.principal, ranks.root)
    return success(None)


@bp.post("/end_user/v2/code-gen/cancel")
@documented(
    summary="Cancel the session's running steps (docs/protocol.md §9)",
    description="2xx for any owned session, running or not.",
    response=Cancelled,
    headers=[SESSION_ID],
    errors=[404],
    tag="history",
)
async def cancel(request: Request) -> HTTPResponse:
    return success(await history.cancel(await header_session(request), request.app.ctx.running))


@bp.post("/end_user/v1/feedbacks/submit")
@documented(
    summary="Vote on an answer",
    description="The body is empty; the vote travels in the headers. The last vote wins.",
    response=FeedbackRecorded,
    headers=[SESSION_ID, QUERY_ID, FEEDBACK],
    errors=[404, 422],
    tag="history",
)
async def feedback(request: Request) -> HTTPResponse:
    session = await header_session(request)
    return success(
        await history.feedback(
            session, request.ctx.auth.principal, request.headers.get("x-query-id"), request.headers.get("x-feedback")
        )
    )
