"""Releasing a pooled connection costs no round trip, and that stays safe: nothing in the application leaves
session state on a pooled connection that asyncpg's default reset query would have had to undo."""

from __future__ import annotations

import re
from pathlib import Path

from tortoise import Tortoise

ROOT = Path(__file__).resolve().parents[2]
# Session-scoped state the default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`)
# exists to clear. Transaction-scoped forms (pg_advisory_xact_lock, SET LOCAL) end with their transaction.
SESSION_STATE = re.compile(
    r"pg_(try_)?advisory_lock(_shared)?\s*\(|[\"']LISTEN\s|\bWITH\s+HOLD\b|set_config\([^)]*false\)"
    r"|[\"']SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|TO)\s",
)
# The migration runner takes a session lock on a connection of its own (asyncpg.connect), never the pool.
OWN_CONNECTION = {Path("app/db/migrations.py")}


async def test_a_released_connection_sends_no_reset_query(db):
    queries: list[str] = []
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as conn:
        conn.add_query_logger(lambda record: queries.append(record.query))
        await conn.fetchval("SELECT 1")
    # The logger stays on that connection: whatever its release sent would be logged before our next query.
    async with client.acquire_connection() as again:
        await again.fetchval("SELECT 2")
    async with client.acquire_connection() as again:
        await again.fetchval("SELECT 3")
    extra = [q for q in queries if q not in ("SELECT 1", "SELECT 2", "SELECT 3")]
    assert queries[0] == "SELECT 1" and not extra, f"a release ran {extra}"


async def test_a_transaction_left_open_is_still_rolled_back_on_release(db):
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as conn:
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS pool_probe (n int)")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO pool_probe VALUES (1)")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    for _ in range(10):  # the pool may hand out another connection; find the same backend again
        async with client.acquire_connection() as conn:
            if await conn.fetchval("SELECT pg_backend_pid()") == pid:
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SELECT count(*) FROM pool_probe") == 0
                return


def test_no_application_code_leaves_session_state_on_a_pooled_connection():
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative in OWN_CONNECTION:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if SESSION_STATE.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "session state on pooled connections needs the pool's reset back:\n" + "\n".join(offenders)
