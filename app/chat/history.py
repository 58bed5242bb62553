"""Sessions and their history as the client renders them (docs/protocol.md §10), plus the session operations:
delete, pin/unpin, reorder, feedback and cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.chat.running import RunningSteps
from app.chat.uploads import Uploads
from app.db.models import Session, UserQuery
from app.db.ownership import Owner, get_owned, parse_id
from app.db.repositories import chat as repo
from app.errors import Conflict, InvalidRequest, NotFound, SessionNotFound

ChatSession = Session  # what callers above this layer name in type hints

MAX_PINNED = 5


def age(updated_at: datetime, now: datetime | None = None) -> str:
    seconds = max(int(((now or datetime.now(UTC)) - updated_at).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def session_item(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "summary": session.summary,
        "age": age(session.updated_at),
        "pinned_rank": session.pinned_rank,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }


async def list_sessions(
    owner: Owner, *, pinned: bool, session_type: str | None, limit: int, offset: int
) -> dict[str, Any]:
    rows, has_more = await repo.list_sessions(
        user_id=owner.user_id,
        team_id=owner.team_id,
        session_type=session_type,
        pinned=pinned,
        limit=limit,
        offset=offset,
    )
    return {"sessions": [session_item(s) for s in rows], "has_more": has_more}


async def owned_session(owner: Owner, raw_id: Any) -> Session:
    return await get_owned(Session, raw_id, owner, not_found=SessionNotFound)


async def auxiliary_session(owner: Owner) -> Session:
    """The caller's session for requests that belong to no conversation (created on first use)."""
    return await repo.auxiliary_session(team_id=owner.team_id, user_id=owner.user_id)


async def chats(session: Session, uploads: Uploads | None = None) -> list[dict[str, Any]]:
    """The chat elements in creation order, in the shapes the client renders (§10.2)."""
    tools = await repo.session_tool_uses(session.id)
    attachments = await repo.session_attachments(session.id)
    if uploads is not None and attachments:
        await uploads.ensure_key()
    out: list[dict[str, Any]] = []
    for element in await repo.session_elements(session.id):
        payload = dict(element.payload)
        if element.message_type == "TOOL_USE":
            tool = tools.get(payload.get("tool_use_row"))
            if tool is None:
                continue
            payload = {
                "tool_use_id": tool.tool_use_id,
                "tool_name": tool.tool_name,
                "tool_input": tool.tool_input,
                "tool_response": tool.tool_response,
                # A PENDING tool use is reported as ABORTED: nobody will answer it from history.
                "tool_status": "ABORTED" if tool.status == "PENDING" else tool.status,
            }
        elif element.message_type == "CODE_BLOCK" and payload.get("diff") is None:
            payload["diff"] = ""
        elif element.actor == "USER" and payload.get("attachments"):
            payload["attachments"] = [
                {"attachment_id": a["attachment_id"]}
                | (
                    {"get_url": uploads.download_url(attachments[a["attachment_id"]])}
                    if uploads and a["attachment_id"] in attachments
                    else {}
                )
                for a in payload["attachments"]
            ]
        out.append(
            {
                "actor": element.actor,
                "message_data": {"message_type": element.message_type, **payload},
                "timestamp": iso(element.created_at),
            }
        )
    return out


async def delete(session: Session, running: RunningSteps) -> None:
    await cancel(session, running)
    await repo.soft_delete_session(session.id)


async def pin(session: Session, *, pinned: bool, rank: int | None) -> None:
    if not pinned:
        await repo.set_pinned_rank(session.id, None)
        return
    if rank is None:
        raise InvalidRequest("pinned_rank is required to pin a session")
    if (
        session.pinned_rank is None
        and await repo.count_pinned(user_id=session.user_id, team_id=session.team_id, session_type=session.session_type)
        >= MAX_PINNED
    ):
        raise Conflict(f"at most {MAX_PINNED} sessions can be pinned")
    await repo.set_pinned_rank(session.id, rank)


async def reorder(owner: Owner, ranks: dict[str, Any]) -> None:
    """Every key must be an integer id the caller owns, every value an integer, or nothing changes."""
    parsed: dict[int, int] = {}
    for key, value in ranks.items():
        session_id = parse_id(key)
        if session_id is None or isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"invalid entry {key!r}: keys are session ids, values integer ranks")
        parsed[session_id] = value
    if not parsed:
        raise InvalidRequest("nothing to reorder")
    for session_id in parsed:
        await get_owned(Session, session_id, owner, not_found=SessionNotFound)
    await repo.set_pinned_ranks(parsed)


async def feedback(session: Session, owner: Owner, raw_query_id: Any, value: str | None) -> dict[str, Any]:
    if value not in ("UPVOTE", "DOWNVOTE"):
        raise InvalidRequest("X-Feedback must be UPVOTE or DOWNVOTE")
    query = await get_owned(UserQuery, raw_query_id, owner, not_found=NotFound)
    if query.session_id != session.id:
        raise NotFound("UserQuery not found")
    await repo.set_feedback(query.id, value)
    return {"query_id": query.id, "feedback": value}


async def cancel(session: Session, running: RunningSteps) -> dict[str, Any]:
    """Stop the session's running steps on whatever worker runs them (docs/protocol.md §9)."""
    steps = await repo.cancel_running_steps(session.id)  # the database decides which steps this cancel stops
    await repo.abort_pending_tool_uses(session.id)
    await running.cancel([step.stream_id for step in steps])
    return {"status": "SUCCESS", "cancelled_session_id": session.id, "cancelled_steps": len(steps)}
