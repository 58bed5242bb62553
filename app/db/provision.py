"""Creating the database itself (before any migration can run)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.errors import MigrationError


async def ensure_database(database_url: str) -> bool:
    """Create the database named in `database_url` if it does not exist. Returns True if it was created."""
    try:
        conn = await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return False
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(maintenance)
    try:
        # Identifiers cannot be bound as parameters; quote_ident makes the name safe.
        quoted = await conn.fetchval("SELECT quote_ident($1)", name)
        await conn.execute(f"CREATE DATABASE {quoted}")
    except asyncpg.DuplicateDatabaseError:
        return False
    except asyncpg.InsufficientPrivilegeError as exc:
        raise MigrationError(f"database {name!r} does not exist and this role may not create it") from exc
    finally:
        await conn.close()
    return True
