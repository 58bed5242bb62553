"""Bringing a database to the current schema, shared by `serve` and `migrate`."""

from __future__ import annotations

import asyncpg

from app.db.migrations import Migration, migrate
from app.db.provision import ensure_database


async def prepare_database(database_url: str) -> tuple[bool, list[Migration]]:
    """Create the database if needed and apply pending migrations; returns (created, applied)."""
    # The database nearly always exists: migrating first and creating it only when the connection says it
    # is missing saves every command a connection.
    try:
        return False, await migrate(database_url)
    except asyncpg.InvalidCatalogNameError:
        created = await ensure_database(database_url)
        return created, await migrate(database_url)
