"""The browser suite: a real headless Chromium (Debian's package, driven by Playwright) against a real
`adjutant serve` on the test run's PostgreSQL and Redis, with the contract tests' scripted models."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.releases.changes import Contributors, ReleaseFacts, ReleaseRange
from app.releases.render import render
from tests.contract.conftest import ROOT, Deployment, create_database, prepare
from tests.fakes.jira_server import API_TOKEN, EMAIL, FakeJira
from tests.search.conftest import FILES, write_tree

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture(scope="module")
def deployment(servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The module's `adjutant serve`, allowed to reach the fake Jira on loopback (approving a docs ticket opens
    an issue there) and holding a key to seal the connection's credentials."""
    workdir = tmp_path_factory.mktemp("web-deployment")
    name = f"web_{os.getpid()}"
    database_url = asyncio.run(create_database(servers, name))
    overrides = {
        "ADJUTANT_SECRETS__KEYS": "k1:" + base64.b64encode(bytes(range(32))).decode(),
        "ADJUTANT_INTEGRATIONS__ALLOWED_HOSTS": '["127.0.0.1"]',
    }
    target = prepare(workdir, database_url, servers.redis_url, f"web{os.getpid() % 10**6}:", **overrides)
    target.tokens["ada"] = target.issue_token("ada@example.com")
    target.tokens["eve"] = target.issue_token("eve@example.com")
    target.start_server()
    try:
        yield target
    finally:
        target.stop()


def cli(target: Deployment, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=ROOT,
        env={**target.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


async def sql(target: Deployment, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(target.database_url)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


def run_sql(target: Deployment, query: str, *args: Any) -> list[asyncpg.Record]:
    # Playwright's sync API keeps an event loop running in this thread, so the query gets a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, sql(target, query, *args)).result()


def deterministic_facts() -> ReleaseFacts:
    release = ReleaseRange(from_ref="v1.0.0", to_ref="v1.1.0", from_sha="a" * 40, to_sha="b" * 40, version="v1.1.0")
    return ReleaseFacts(release, [], [], Contributors([], []), 3, "shop")


@dataclass
class Seeded:
    deployment: Deployment
    note_id: int
    dead_job_id: int
    rival_job_id: int
    ticket_id: int
    rival_ticket_id: int
    approvable_ticket_id: int
    jira: FakeJira

    def url(self, path: str) -> str:
        return self.deployment.url() + path


@pytest.fixture(scope="module")
def web(deployment: Deployment, jira: FakeJira, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The module's deployment with what the pages show: an indexed repository, a draft release note, a dead
    job, draft docs tickets and the team's Jira connection, and a second team (`rival`) with a session, a job and
    a ticket of its own."""
    workdir = tmp_path_factory.mktemp("web-seed")
    write_tree(workdir / "shop", FILES)
    cli(deployment, "index", str(workdir / "shop"), "--name", "shop", "--team", "core")
    deployment.tokens["rival"] = cli(deployment, "token", "create", "--email", "rita@rival.example", "--team", "rival")
    team = {row["name"]: row["id"] for row in run_sql(deployment, "SELECT id, name FROM teams")}
    repository = run_sql(deployment, "SELECT id FROM repositories WHERE name = 'shop'")[0]["id"]
    facts = deterministic_facts()
    plain = render(facts, "external")
    note_id = run_sql(
        deployment,
        "INSERT INTO release_notes (team_id, repository_id, to_ref, to_sha, from_ref, version, internal_md, "
        "external_md, facts, generator, model) VALUES ($1, $2, 'v1.1.0', $3, 'v1.0.0', 'v1.1.0', $4, $5, $6, "
        "'model', 'scripted') RETURNING id",
        team["core"],
        repository,
        "b" * 40,
        "Internal: three commits, nothing user-facing.",
        plain + "\nA smoother checkout, polished by the model.",
        json.dumps(facts.to_json()),
    )[0]["id"]
    insert_job = (
        "INSERT INTO jobs (team_id, kind, idempotency_key, status, attempts, max_attempts, last_error, "
        "finished_at) VALUES ($1, 'web.demo', $2, 'DEAD', 3, 3, 'the demo always fails', now()) RETURNING id"
    )
    dead = run_sql(deployment, insert_job, team["core"], "dead-1")[0]["id"]
    rival = run_sql(deployment, insert_job, team["rival"], "dead-2")[0]["id"]
    insert_ticket = (
        "INSERT INTO doc_tickets (team_id, title, summary, suggestion, evidence_count, embedding) "
        "VALUES ($1, $2, 'Three people could not find how to rotate a token.', 'Add a section on rotation.', 3, "
        "$3::vector) RETURNING id"
    )
    zero = "[" + ",".join(["0"] * 383 + ["1"]) + "]"
    ticket = run_sql(deployment, insert_ticket, team["core"], "Document token rotation", zero)[0]["id"]
    rival_ticket = run_sql(deployment, insert_ticket, team["rival"], "Rival docs gap", zero)[0]["id"]
    approvable = run_sql(deployment, insert_ticket, team["core"], "Document the webhook retries", zero)[0]["id"]
    connection = {
        "kind": "jira",
        "name": "jira",
        "base_url": jira.url,
        "credentials": {"email": EMAIL, "api_token": API_TOKEN},
        "options": {"deployment": "cloud", "default_project": "ENG"},
    }
    added = httpx.post(
        deployment.url() + "/v1/integrations",
        json=connection,
        headers={"Authorization": f"Bearer {deployment.tokens['ada']}"},
        timeout=30,
    )
    assert added.status_code == 201, added.text
    return Seeded(deployment, note_id, dead, rival, ticket, rival_ticket, approvable, jira)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1100, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


class Shots:
    """Screenshots of pages: kept in the test's tmp dir and copied to test-artifacts/screenshots/."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def take(self, page: Any, name: str) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.mktemp("screenshots"))
