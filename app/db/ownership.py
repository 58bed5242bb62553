"""Ownership checks for every id a client sends (docs/protocol.md §0, §11 #1-3).

"Not owned" and "does not exist" are indistinguishable: both raise the same typed NotFound.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from tortoise.models import Model

from app.db.wire_types import MAX_WIRE_ID, parse_id
from app.errors import NotFound

# parse_id lives with the wire types
__all__ = ["MAX_WIRE_ID", "Owner", "get_owned", "owner_filter", "owns_session", "parse_id"]
M = TypeVar("M", bound=Model)


class Owner(Protocol):
    user_id: int
    team_id: int


def owner_filter(model: type[Model], owner: Owner) -> dict[str, int]:
    """The filter restricting `model` rows to `owner`: its team always, its user where rows are personal."""
    fields = model._meta.fields_map
    scope = {"team_id": owner.team_id}
    if "user" in fields:
        scope["user_id"] = owner.user_id
    elif "session" in fields:
        scope["session__user_id"] = owner.user_id
    return scope


def owns_session(owner: Owner, session: Any) -> bool:
    """Whether a session row already loaded (say, through its step) belongs to `owner`."""
    return (session.user_id, session.team_id) == (owner.user_id, owner.team_id)


async def get_owned(
    model: type[M],
    raw_id: Any,
    owner: Owner,
    *,
    not_found: type[NotFound] = NotFound,
    include_deleted: bool = False,
    for_update: bool = False,
) -> M:
    """Load `model` row `raw_id` if `owner` may see it; otherwise raise `not_found` (same for absent rows)."""
    row_id = parse_id(raw_id)
    if row_id is None:
        raise not_found(f"{model.__name__} not found")
    query = model.filter(id=row_id, **owner_filter(model, owner))
    if "deleted_at" in model._meta.fields_map and not include_deleted:
        query = query.filter(deleted_at__isnull=True)
    if for_update:
        query = query.select_for_update()
    row = await query.first()
    if row is None:
        raise not_found(f"{model.__name__} not found")
    return row
