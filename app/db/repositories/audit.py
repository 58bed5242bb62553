"""The audit trail: every action taken on a team's behalf, by a user or by the bot, appended and never edited."""

from __future__ import annotations

from typing import Any, Literal

from app.db.models import AuditEvent

ActorType = Literal["user", "bot"]
TEXT_MAX = 2000


async def record(
    team_id: int,
    *,
    actor_type: ActorType,
    actor_name: str,
    action: str,
    target_type: str,
    target: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
    actor_user_id: int | None = None,
) -> AuditEvent:
    return await AuditEvent.create(
        team_id=team_id,
        actor_type=actor_type,
        actor_user_id=actor_user_id,
        actor_name=actor_name[:200],
        action=action[:40],
        target_type=target_type[:40],
        target=target[:TEXT_MAX],
        reason=reason[:TEXT_MAX],
        details=details or {},
    )


async def team_events(
    team_id: int, *, limit: int, before_id: int | None = None, action: str | None = None
) -> tuple[list[AuditEvent], int | None]:
    """A page of the team's events, newest first, with the `before_id` of the next page (None on the last)."""
    query = AuditEvent.filter(team_id=team_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    if action is not None:
        query = query.filter(action=action)
    rows = await query.order_by("-id").limit(limit + 1)
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
