"""Bringing a database to the current schema, shared by `serve` and `migrate`."""

from __future__ import annotations

from app.db.migrations import Migration, migrate
from app.db.provision import ensure_database


async def prepare_database(database_url: str) -> tuple[bool, list[Migration]]:
    """Create the database if needed and apply pending migrations; returns (created, applied)."""
    created = await ensure_database(database_url)
    applied = await migrate(database_url)
    return created, applied
