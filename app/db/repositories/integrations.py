"""A team's connections. Every function is scoped to a team: a connection of another team is not found."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from app.db.models import Integration
from app.errors import Conflict


async def create(**fields: Any) -> Integration:
    try:
        return await Integration.create(**fields)
    except IntegrityError:
        raise Conflict(f"the team already has a connection named {fields.get('name')!r}") from None


async def team_connections(team_id: int, kinds: Iterable[str] | None = None) -> list[Integration]:
    query = Integration.filter(team_id=team_id)
    if kinds is not None:
        query = query.filter(kind__in=list(kinds))
    return await query.order_by("kind", "name")


async def owned(team_id: int, reference: str) -> Integration | None:
    """By public id or by name: CLI users type names, API clients keep ids."""
    found = await Integration.get_or_none(team_id=team_id, public_id=reference)
    return found or await Integration.get_or_none(team_id=team_id, name=reference)


async def by_hook(hook_id: str, kind: str) -> Integration | None:
    return await Integration.get_or_none(hook_id=hook_id, kind=kind)


async def delete(team_id: int, public_id: str) -> bool:
    return await Integration.filter(team_id=team_id, public_id=public_id).delete() > 0


async def record_test(
    row_id: int, *, at: datetime, ok: bool, detail: str, login: str | None, scopes: list[str]
) -> None:
    await Integration.filter(id=row_id).update(
        last_tested_at=at,
        last_test_ok=ok,
        last_test_detail=detail[:500],
        identity_login=login,
        scopes=scopes,
        updated_at=at,
    )


async def kinds_of_team(team_id: int) -> set[str]:
    rows = await Integration.filter(team_id=team_id).distinct().values_list("kind", flat=True)
    return set(rows)
