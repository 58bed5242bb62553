"""Shared test infrastructure.

One embedded PostgreSQL (with pgvector) and one embedded Redis are started per test run by the same code
`adjutant serve` uses. Each test gets its own database, cloned from a template that has every migration
applied, and a flushed Redis; tests that need the HTTP service get a real Sanic server listening on a
loopback port inside the test's event loop.
"""

from __future__ import annotations

import asyncio
import compileall
import itertools
import os
import queue
import shutil
import socket
import tempfile
import threading
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


# A test run's data is thrown away: durability costs time on every commit and on every database copy.
THROWAWAY_SERVER_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
READY_DATABASES = 2


class DatabasePool:
    """Copies of the migrated template made ahead of the tests that need them, and dropped after them, on a
    thread of its own: a copy costs ~0.1-1 s of mostly waiting on the disk, which then overlaps the tests
    instead of adding to each one."""

    def __init__(self, postgres: EmbeddedPostgres, ready: int = READY_DATABASES) -> None:
        self._postgres = postgres
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="test-database-pool", daemon=True)
        self._thread.start()
        for _ in range(ready):
            self._work.put(("create", self._new_name()))

    @staticmethod
    def _new_name() -> str:
        return f"test_{os.getpid()}_{next(_db_names)}"

    def take(self) -> str:
        """A fresh database's name; its replacement starts copying at once."""
        self._work.put(("create", self._new_name()))
        name = self._ready.get(timeout=300)
        if isinstance(name, BaseException):
            raise RuntimeError("the test database pool could not copy the template") from name
        return name

    def discard(self, name: str) -> None:
        self._work.put(("drop", name))

    def close(self) -> None:
        """Drop every copy still waiting, ready or not, and stop the thread."""
        self._work.put(None)
        self._thread.join(timeout=120)

    def _serve(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        admin = await asyncpg.connect(self._postgres.url("postgres"))
        try:
            while (item := await asyncio.to_thread(self._work.get)) is not None:
                action, name = item
                try:
                    if action == "create":
                        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}" STRATEGY WAL_LOG')
                        self._ready.put(name)
                    else:
                        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exc:  # noqa: BLE001 - handed to the waiting test, which fails with it
                    if action == "create":
                        self._ready.put(exc)
            while not self._ready.empty():
                leftover = self._ready.get_nowait()
                if isinstance(leftover, str):
                    await admin.execute(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass
class EmbeddedServers:
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    pool: DatabasePool | None = None

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
def compiled_sources() -> None:
    """Bytecode for the app's own modules, written once: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
    every CLI and `serve` subprocess of the tests would otherwise compile all of app/ again at its start
    (installed packages get theirs from `uv sync`: `compile-bytecode` in pyproject.toml)."""
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "app", quiet=1)


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
            admin = await asyncpg.connect(postgres.url("postgres"))
            try:
                for name, value in THROWAWAY_SERVER_SETTINGS.items():
                    await admin.execute(f"ALTER SYSTEM SET {name} = {value}")
                await admin.execute("SELECT pg_reload_conf()")
            finally:
                await admin.close()
            await ensure_database(template_url)
            await migrate(template_url)

        asyncio.run(prepare_template())
        pool = DatabasePool(postgres)
        try:
            yield EmbeddedServers(postgres, redis, pool)
        finally:
            pool.close()
    finally:
        redis.release()
        postgres.release()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest_asyncio.fixture
async def database_url(servers: EmbeddedServers) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test (a copy of the template, made ahead by the pool)."""
    assert servers.pool is not None
    name = await asyncio.to_thread(servers.pool.take)
    yield servers.database_url(name)
    servers.pool.discard(name)


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
