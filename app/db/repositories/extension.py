"""The extension's per-user rows: terminal settings and saved URLs. Every function is scoped to an owner."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.db.models import SavedUrl, UserExtensionSettings
from app.db.ownership import Owner, owner_filter, parse_id
from app.db.repositories.chat import now

# --- terminal settings --------------------------------------------------------------------------------------


async def get_settings(owner: Owner) -> UserExtensionSettings | None:
    return await UserExtensionSettings.get_or_none(team_id=owner.team_id, user_id=owner.user_id)


async def put_settings(owner: Owner, *, enable_yolo_mode: bool, command_deny_list: list[str]) -> tuple[bool, list[str]]:
    """Replace the owner's settings in one statement; returns what this statement stored (racing writers of
    the same owner each get their own write back, and the last one stays)."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "INSERT INTO extension_settings (team_id, user_id, enable_yolo_mode, command_deny_list) "
        "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (team_id, user_id) DO UPDATE SET "
        "enable_yolo_mode = EXCLUDED.enable_yolo_mode, command_deny_list = EXCLUDED.command_deny_list, "
        "updated_at = now() RETURNING enable_yolo_mode, command_deny_list",
        [owner.team_id, owner.user_id, enable_yolo_mode, json.dumps(command_deny_list)],
    )
    stored = rows[0]["command_deny_list"]
    return rows[0]["enable_yolo_mode"], json.loads(stored) if isinstance(stored, str) else stored


# --- saved URLs ---------------------------------------------------------------------------------------------


def _live(owner: Owner) -> QuerySet[SavedUrl]:
    return SavedUrl.filter(is_deleted=False, **owner_filter(SavedUrl, owner))


async def create_url(owner: Owner, *, name: str, url: str, last_indexed: datetime | None, cap: int) -> SavedUrl | None:
    """Insert unless the owner already keeps `cap` live URLs (then None). Concurrent saves of one owner are
    serialised by a transaction-scoped advisory lock, so the cap holds under races."""
    async with in_transaction() as connection:
        await connection.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [f"saved_urls:{owner.team_id}:{owner.user_id}"]
        )
        if await _live(owner).using_db(connection).count() >= cap:
            return None
        return await SavedUrl.create(
            team_id=owner.team_id,
            user_id=owner.user_id,
            name=name,
            url=url,
            last_indexed=last_indexed,
            using_db=connection,
        )


async def owned_url(owner: Owner, raw_id: Any) -> SavedUrl | None:
    """The owner's live URL `raw_id`; None when absent, deleted, foreign or not a valid id."""
    url_id = parse_id(raw_id)
    if url_id is None:
        return None
    return await _live(owner).filter(id=url_id).first()


async def update_url(owner: Owner, raw_id: Any, changes: dict[str, Any]) -> SavedUrl | None:
    """Apply `changes` to the owner's live URL in one statement; the row as stored afterwards, or None."""
    url_id = parse_id(raw_id)
    if url_id is None:
        return None
    if not changes:
        return await owned_url(owner, url_id)
    updated = await _live(owner).filter(id=url_id).update(**changes, updated_at=now())
    if not updated:
        return None
    return await SavedUrl.filter(id=url_id, **owner_filter(SavedUrl, owner)).first()


async def delete_url(owner: Owner, raw_id: Any) -> bool:
    """Soft-delete the owner's live URL; False when there was none to delete."""
    url_id = parse_id(raw_id)
    if url_id is None:
        return False
    return bool(await _live(owner).filter(id=url_id).update(is_deleted=True, updated_at=now()))


async def list_urls(owner: Owner, *, limit: int, offset: int) -> tuple[list[SavedUrl], int]:
    """One page of the owner's live URLs, newest first, and how many there are in all."""
    query = _live(owner)
    rows = await query.order_by("-created_at", "-id").offset(offset).limit(limit)
    return rows, await query.count()
