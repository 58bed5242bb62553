"""Shared test infrastructure.

One embedded PostgreSQL (with pgvector) and one embedded Redis are started per test run by the same code
`adjutant serve` uses. Each test gets its own database, cloned from a template that has every migration
applied, and a flushed Redis; tests that need the HTTP service get a real Sanic server listening on a
loopback port inside the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sanic import Sanic

from app.api.app import create_app
from app.db.connection import close_database, open_database
from app.db.migrations import migrate
from app.db.provision import ensure_database
from app.runtime.config_loader import load_settings
from app.runtime.embedded_postgres import EmbeddedPostgres
from app.runtime.embedded_redis import EmbeddedRedis
from app.runtime.settings import Settings

TEMPLATE_DB = "adjutant_template"
SERVICE_DIR_VARIABLE = "ADJUTANT_EMBEDDED__SERVICE_DIR"
CLIENT_HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0"}
_db_names = itertools.count(1)


@dataclass
class EmbeddedServers:
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis

    def database_url(self, name: str) -> str:
        return self.postgres.url(name)

    @property
    def redis_url(self) -> str:
        return self.redis.url()


def reachable_temp_dir(prefix: str) -> Path:
    """A directory of ours that PostgreSQL's service user (as root) can search; pytest's tmp_path is 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session", autouse=True)
def embedded_service_dir() -> Iterator[Path]:
    """As root, embedded PostgreSQL keeps what its user cannot reach here instead of /var/lib/adjutant/embedded
    (CLI subprocesses get it through the environment); removed after the run."""
    path = reachable_temp_dir("adjutant-test-embedded-")
    previous = os.environ.get(SERVICE_DIR_VARIABLE)
    os.environ[SERVICE_DIR_VARIABLE] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(SERVICE_DIR_VARIABLE, None)
        else:
            os.environ[SERVICE_DIR_VARIABLE] = previous
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def servers(embedded_service_dir: Path) -> Iterator[EmbeddedServers]:
    data_dir = reachable_temp_dir("adjutant-test-servers-")
    postgres = EmbeddedPostgres(data_dir, service_dir=embedded_service_dir)
    redis = EmbeddedRedis(data_dir)
    try:
        postgres.start()
        redis.start()
        template_url = postgres.url(TEMPLATE_DB)

        async def prepare_template() -> None:
            await ensure_database(template_url)
            await migrate(template_url)

        asyncio.run(prepare_template())
        yield EmbeddedServers(postgres, redis)
    finally:
        redis.release()
        postgres.release()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _admin(servers: EmbeddedServers) -> asyncpg.Connection:
    return await asyncpg.connect(servers.database_url("postgres"))


@pytest_asyncio.fixture
async def database_url(servers: EmbeddedServers) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test (a copy of the template)."""
    name = f"test_{os.getpid()}_{next(_db_names)}"
    admin = await _admin(servers)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}" STRATEGY FILE_COPY')
    finally:
        await admin.close()
    yield servers.database_url(name)
    admin = await _admin(servers)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def redis_url(servers: EmbeddedServers) -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(servers.redis_url)
    await client.flushdb()
    await client.aclose()
    yield servers.redis_url


def make_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    """Settings as a deployment would load them, pointed at this test's database and Redis."""
    environ = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ADJUTANT_LOGGING__FORMAT": "json"}
    return load_settings(
        environ=environ,
        include_config_file=False,
        overrides={tuple(key.split(".")): value for key, value in overrides.items()},
    )


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, redis_url)


@pytest_asyncio.fixture
async def db(database_url: str, settings: Settings) -> AsyncIterator[None]:
    """The ORM opened on this test's database, for tests that do not start the HTTP service."""
    await open_database(database_url, settings.database)
    yield
    await close_database()


class RunningService:
    """A real Sanic server on a loopback port, running in the test's event loop."""

    def __init__(self, app: Sanic, server: Any, base_url: str) -> None:
        self.app = app
        self.server = server
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def issue_token(self, email: str = "dev@example.com", team: str = "core") -> str:
        raw, _ = await self.app.ctx.tokens.issue(email=email, team=team)
        return raw

    async def request(
        self,
        method: str,
        path: str,
        *,
        client_headers: bool = True,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(CLIENT_HEADERS) if client_headers else {}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return await self.http.request(method, path, headers=sent, **kwargs)


async def start_service(settings: Settings, *, openapi: bool = False) -> RunningService:
    app = create_app(settings)
    # Building the OpenAPI document costs ~0.3 s per start; only the test of /docs needs it.
    app.config.OAS = openapi
    # Sanic's "touchup" rewrites shared protocol classes once per process; a second app in the same
    # process (every test starts one) must skip it.
    app.config.TOUCHUP = False
    # Sanic reads port 0 as "the default 8000", which collides with any other test run on the machine:
    # hand it a socket already bound to a free port instead.
    listener = socket.create_server(("127.0.0.1", 0))
    server = await app.create_server(sock=listener, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    port = server.server.sockets[0].getsockname()[1]
    return RunningService(app, server, f"http://127.0.0.1:{port}")


async def stop_service(service: RunningService) -> None:
    await service.http.aclose()
    await service.server.before_stop()
    service.server.close()
    await service.server.wait_closed()
    await service.server.after_stop()


@pytest_asyncio.fixture
async def service(settings: Settings) -> AsyncIterator[RunningService]:
    running = await start_service(settings)
    yield running
    await stop_service(running)


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def issue_token(service: RunningService):
    """Issue a real token through the service's token store."""
    return service.issue_token
