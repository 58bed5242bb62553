"""Every data command brings the database to the current schema first: a missing database is created and
migrated, an existing one is only migrated (no extra connection to check that it exists)."""

from __future__ import annotations

import asyncpg
import pytest

from app.cli.database import prepare_database
from app.db.migrations import discover, status_of
from tests.conftest import EmbeddedServers


@pytest.fixture
async def missing_database(servers: EmbeddedServers):
    name = "cli_prepare_missing"
    admin = await asyncpg.connect(servers.database_url("postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()
    yield servers.database_url(name)
    admin = await asyncpg.connect(servers.database_url("postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_a_missing_database_is_created_and_migrated_then_left_alone(missing_database):
    created, applied = await prepare_database(missing_database)
    assert created is True
    assert [m.filename for m in applied] == [m.filename for m in discover()]
    assert (await status_of(missing_database)).up_to_date
    assert await prepare_database(missing_database) == (False, [])


async def test_an_existing_database_gets_only_its_pending_migrations(database_url):
    assert await prepare_database(database_url) == (False, [])
