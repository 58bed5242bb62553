"""Opening and closing the ORM's connection pool for one process."""

from __future__ import annotations

from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError

from app.db.migrations import MigrationStatus, discover, read_status
from app.runtime.settings import DatabaseSettings

MODEL_MODULES = ["app.db.models"]


async def register_vector_codec(conn: asyncpg.Connection) -> None:
    """Teach a new pool connection pgvector's binary format (skipped before the extension exists)."""
    if await conn.fetchval("SELECT 1 FROM pg_type WHERE typname = 'vector'"):
        await register_vector(conn)


async def keep_session_state(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, replacing asyncpg's default query (`pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`, one round trip per release). Our pooled connections keep no session state to
    undo: locks are transaction-scoped (`pg_advisory_xact_lock`), settings are `SET LOCAL`, nothing
    LISTENs and no cursor is held; the only session-level advisory lock (migrations) is taken on a
    connection of its own. asyncpg still rolls back an open transaction before calling this."""


def tortoise_config(database_url: str, settings: DatabaseSettings) -> dict[str, Any]:
    connection = expand_db_url(database_url)
    credentials = connection["credentials"]
    credentials.update(
        minsize=settings.pool_min,
        maxsize=settings.pool_max,
        init=register_vector_codec,
        reset=keep_session_state,
        server_settings={"application_name": "adjutant", "timezone": "UTC"}
        | ({"statement_timeout": str(settings.statement_timeout_ms)} if settings.statement_timeout_ms else {}),
    )
    return {
        "connections": {"default": connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


# What an unreachable, stopping or restarting server raises, from asyncpg, from Tortoise, or from the socket.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.InterfaceError,
    DBConnectionError,
    ConnectionRefusedError,
    ConnectionResetError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached right now."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, UNAVAILABLE_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def open_database(database_url: str, settings: DatabaseSettings) -> None:
    # The global fallback lets request tasks that Sanic spawns see the context initialised in a listener.
    await Tortoise.init(config=tortoise_config(database_url, settings), _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


async def ping_database() -> None:
    """One round trip to the database; raises if it cannot be reached."""
    await Tortoise.get_connection("default").execute_query("SELECT 1")


async def schema_status() -> MigrationStatus:
    """The applied migrations against those on disk."""
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        return await read_status(conn, discover())
