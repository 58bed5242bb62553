"""The session a REST call names in X-Session-ID (any case), ownership-checked (docs/protocol.md §1.2)."""

from __future__ import annotations

from sanic import Request

from app.chat import history
from app.db.ownership import parse_id


async def required_session(request: Request) -> history.ChatSession:
    """Routes marked S: a missing, invalid or foreign id is SESSION_NOT_FOUND."""
    return await history.owned_session(request.ctx.auth.principal, request.headers.get("x-session-id"))


async def optional_session(request: Request) -> history.ChatSession | None:
    """Routes where the session is optional: absent (or not a valid id, §0) is None, foreign is 404."""
    raw = request.headers.get("x-session-id")
    if parse_id(raw) is None:
        return None
    return await history.owned_session(request.ctx.auth.principal, raw)
