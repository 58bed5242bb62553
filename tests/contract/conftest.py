"""Contract-test deployments: real `adjutant serve` processes on the test run's PostgreSQL and Redis, with
scripted models whose scripts each test writes, and the scripted provider's request log to assert on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from app.auth.tokens import TokenService
from app.db.connection import close_database, open_database
from app.runtime.processes import free_port
from tests.conftest import TEMPLATE_DB, EmbeddedServers, make_settings
from tests.contract.client import ReplayClient

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    """One database, one Redis namespace, and the server processes sharing them."""

    workdir: Path
    env: dict[str, str]
    database_url: str
    redis_url: str
    prefix: str
    servers: list[tuple[subprocess.Popen[str], str]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def script_path(self) -> Path:
        return self.workdir / "script.json"

    @property
    def record_path(self) -> Path:
        return self.workdir / "record.jsonl"

    def url(self, index: int = 0) -> str:
        return self.servers[index][1]

    def client(self, user: str = "ada", index: int = 0) -> ReplayClient:
        return ReplayClient(self.url(index), self.tokens[user])

    def script(self, *responses: dict[str, Any], mode: str = "sequence") -> None:
        """Replace the chat model's script and restart its position; clear the request log."""
        self.script_path.write_text(json.dumps({"mode": mode, "responses": list(responses)}))
        Path(str(self.script_path) + ".cursor").unlink(missing_ok=True)
        self.record_path.write_text("")

    def requests(self) -> list[dict[str, Any]]:
        """What the scripted provider saw (requests and cancellations), across all processes."""
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines() if line.strip()]

    def model_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["event"] == "request" and r["model"] == "scripted"]

    def start_server(self) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=(self.workdir / f"server-{port}.log").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((self.workdir / f"server-{port}.log").read_text())
            try:
                if httpx.get(base + "/ping", timeout=0.5).status_code == 200:
                    self.servers.append((process, base))
                    return base
            except httpx.HTTPError:
                time.sleep(0.1)
        process.kill()
        raise RuntimeError("server did not start")

    def issue_token(self, email: str) -> str:
        """A token for `email` in team "core", issued in-process through the same token service `adjutant token
        create` uses (the CLI itself is tested elsewhere; a subprocess here cost ~2 s of imports per token)."""
        issued: list[str] = []

        async def issue() -> None:
            settings = make_settings(self.database_url, self.redis_url)
            await open_database(self.database_url, settings.database)
            try:
                raw, _ = await TokenService(settings.auth).issue(email=email, team="core")
                issued.append(raw)
            finally:
                await close_database()

        # A thread of its own: the caller may be inside a running event loop (an async test).
        worker = threading.Thread(target=asyncio.run, args=(issue(),))
        worker.start()
        worker.join(60)
        if not issued:
            raise RuntimeError(f"could not issue a token for {email}")
        return issued[0]

    def stop(self) -> None:
        for process, _ in self.servers:
            process.send_signal(signal.SIGTERM)
        for process, _ in self.servers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def models(workdir: Path) -> list[dict[str, Any]]:
    helper = workdir / "helper.json"
    helper.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "Greeting the assistant"}]}))
    return [
        {
            "id": 1,
            "name": "scripted",
            "display_name": "Scripted",
            "input_token_limit": 100_000,
            "output_token_limit": 4_000,
            "routes": [
                {
                    "provider": "scripted",
                    "script_path": str(workdir / "script.json"),
                    "record_path": str(workdir / "record.jsonl"),
                }
            ],
            "fallback_models": ["scripted-backup"],
        },
        {
            "id": 2,
            "name": "scripted-big",
            "display_name": "Scripted (large)",
            "input_token_limit": 1_000_000,
            "output_token_limit": 4_000,
            "routes": [
                {
                    "provider": "scripted",
                    "script_path": str(workdir / "script.json"),
                    "record_path": str(workdir / "record.jsonl"),
                }
            ],
        },
        {
            "id": 3,
            "name": "scripted-backup",
            "display_name": "Scripted backup",
            "input_token_limit": 100_000,
            "output_token_limit": 4_000,
            "routes": [
                {
                    "provider": "scripted",
                    "script_path": str(workdir / "backup.json"),
                    "record_path": str(workdir / "record.jsonl"),
                }
            ],
        },
        {
            "id": 4,
            "name": "helper",
            "display_name": "Helper",
            "input_token_limit": 100_000,
            "output_token_limit": 100,
            "routes": [{"provider": "scripted", "script_path": str(helper)}],
        },
    ]


def prepare(workdir: Path, database_url: str, redis_url: str, prefix: str, **overrides: str) -> Deployment:
    """A deployment's environment, models and scripts; no token issued, no server started yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADJUTANT_")}
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "SENTRY_DSN"):
        env.pop(key, None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ADJUTANT_REDIS__KEY_PREFIX": prefix,
            "ADJUTANT_LOGGING__FORMAT": "json",
            "ADJUTANT_LLM__MODELS": json.dumps(models(workdir)),
            "ADJUTANT_LLM__DEFAULT_MODEL": "scripted",
            "ADJUTANT_LLM__CODE_GEN_MODELS": '["scripted", "scripted-big"]',
            "ADJUTANT_CHAT__SUMMARY_MODEL": "helper",
            "ADJUTANT_CHAT__STEP_CAP": "3",
            "ADJUTANT_LLM__ROUTER__MAX_RETRIES": "0",
            "ADJUTANT_LLM__ROUTER__MAX_RETRY_AFTER_S": "1",
            "ADJUTANT_CHAT__CONNECTION_ERROR_GRACE_S": "2",
            "ADJUTANT_CHAT__PAYLOAD_MAX_BYTES": str(4 * 1024 * 1024),
            "XDG_DATA_HOME": str(workdir / "xdg"),
            **overrides,
        }
    )
    (workdir / "backup.json").write_text(json.dumps({"mode": "repeat", "responses": [{"text": "from the backup"}]}))
    deployment = Deployment(workdir, env, database_url, redis_url, prefix)
    deployment.script({"text": "unused"})
    return deployment


async def create_database(servers: EmbeddedServers, name: str) -> str:
    """A fresh copy of the migrated template on the run's PostgreSQL; returns its URL."""
    admin = await asyncpg.connect(servers.database_url("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}" STRATEGY WAL_LOG')
    finally:
        await admin.close()
    return servers.database_url(name)


@pytest.fixture(scope="module")
def deployment(servers: EmbeddedServers, tmp_path_factory: pytest.TempPathFactory, request) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("deployment")
    name = f"contract_{os.getpid()}_{abs(hash(request.module.__name__)) % 10**8}"
    database_url = asyncio.run(create_database(servers, name))
    deployment = prepare(workdir, database_url, servers.redis_url, f"adj{abs(hash(name)) % 10**6}:")
    deployment.tokens["ada"] = deployment.issue_token("ada@example.com")
    deployment.tokens["eve"] = deployment.issue_token("eve@example.com")
    deployment.start_server()
    try:
        yield deployment
    finally:
        deployment.stop()
        redis.Redis.from_url(servers.redis_url).close()
