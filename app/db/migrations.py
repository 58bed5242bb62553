"""The schema-history runner: numbered plain-SQL files in `migrations/`, applied in order, exactly once.

Why not aerich or Tortoise's (experimental) built-in migrations: our schema needs pgvector HNSW expression
indexes, a generated `tsvector` column, partial unique indexes and CHECK constraints, which neither expresses,
so they would end up as hand-written SQL anyway. Plain SQL files keep the history readable and reviewable;
`tests/db/test_migrations.py` compares the migrated schema with the Tortoise models so the two cannot drift.

Safety: each file runs in its own transaction with its checksum recorded; a PostgreSQL advisory lock makes
concurrent starters (several workers or machines) apply each file once; editing an applied file is an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from app.errors import MigrationError
from app.runtime.config_loader import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
ADVISORY_LOCK_KEY = 0x41444A55  # "ADJU"
HISTORY_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum CHAR(64) NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass
class MigrationStatus:
    applied: list[int] = field(default_factory=list)
    pending: list[Migration] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # applied in the database, missing on disk (newer code ran)
    changed: list[int] = field(default_factory=list)  # applied, but the file was edited afterwards

    @property
    def up_to_date(self) -> bool:
        return not (self.pending or self.unknown or self.changed)

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": len(self.applied),
            "latest": max(self.applied, default=0),
            "pending": [m.filename for m in self.pending],
            "unknown": self.unknown,
            "changed": self.changed,
        }


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_snake_case.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"two migrations share version {version:04d}")
        migrations[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


async def read_status(conn: asyncpg.Connection, available: list[Migration]) -> MigrationStatus:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version") if exists else []
    recorded = {row["version"]: row["checksum"].strip() for row in rows}
    on_disk = {m.version: m for m in available}
    return MigrationStatus(
        applied=sorted(recorded),
        pending=[m for m in available if m.version not in recorded],
        unknown=sorted(v for v in recorded if v not in on_disk),
        changed=sorted(v for v, checksum in recorded.items() if v in on_disk and on_disk[v].checksum != checksum),
    )


async def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration; return those applied by this call."""
    available = discover(directory)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            await conn.execute(HISTORY_TABLE)
            status = await read_status(conn, available)
            if status.changed:
                names = ", ".join(f"{v:04d}" for v in status.changed)
                raise MigrationError(f"applied migrations were edited afterwards: {names}; add a new migration instead")
            applied: list[Migration] = []
            for migration in status.pending:
                try:
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                            migration.version,
                            migration.name,
                            migration.checksum,
                        )
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"{migration.filename} failed: {exc.__class__.__name__}: {exc}") from exc
                applied.append(migration)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


async def status_of(database_url: str, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    conn = await asyncpg.connect(database_url)
    try:
        return await read_status(conn, discover(directory))
    finally:
        await conn.close()
