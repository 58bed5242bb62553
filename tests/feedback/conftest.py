"""A running service with fast jobs and a scripted feedback model, fake Slack, Discord, Jira and Linear servers,
and one team whose connections point at them (webhooks signed with the connection's secret)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

from app.db.models import JobRecord
from app.db.repositories.identity import get_or_create_team
from app.integrations.connections import ConnectionInput
from tests.api.scripted_models import Script, model
from tests.conftest import RunningService, make_settings, start_service, stop_service
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.jira_server import FakeJira
from tests.fakes.linear_server import FakeLinear
from tests.fakes.slack_server import FakeSlack
from tests.fakes.webhook_senders import delivery
from tests.jobs.conftest import FAST_JOBS, eventually

KEYS = "test:" + base64.b64encode(bytes(range(32))).decode()
SECRET = "whsec-feedback-secret-1"
PRICES = {"input": 1.0, "output": 2.0}  # dollars per million tokens: a run's cost is checkable
USAGE = {"input_tokens": 1000, "output_tokens": 200}  # of every scripted answer: $0.0014 a call


@dataclass
class Fakes:
    slack: FakeSlack
    discord: FakeDiscord
    jira: FakeJira
    linear: FakeLinear


@dataclass
class Deployment:
    service: RunningService
    fakes: Fakes
    script: Script
    team_id: int
    admin: str
    member: str
    hooks: dict[str, str] = field(default_factory=dict)  # connection name -> webhook path
    connection_ids: dict[str, int] = field(default_factory=dict)

    async def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        return await self.service.request(method, path, token=token or self.admin, client_headers=False, **kwargs)

    async def connect(self, kind: str, name: str, base_url: str, credentials: dict[str, str], **options: Any) -> None:
        view = await self.service.app.ctx.connections.add(
            self.team_id,
            None,
            ConnectionInput(
                kind=kind,  # type: ignore[arg-type]
                name=name,
                base_url=base_url,
                credentials=credentials,
                webhook_secret=SECRET,
                options=options,
            ),
        )
        self.hooks[name] = view.webhook_path
        row = await self.service.app.ctx.connections.connection(self.team_id, name)
        self.connection_ids[name] = row.id

    async def run(self) -> dict[str, Any]:
        """Start a run through the API and wait for its job; the job's result."""
        answer = await self.api("POST", "/v1/feedback/runs")
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["data"]["job_id"]
        return (await finished(job_id)).result

    async def webhook(self, name: str, platform: str, body: dict[str, Any]) -> JobRecord:
        sent = delivery(platform, SECRET, body=body)
        answer = await self.service.request(
            "POST",
            self.hooks[name],
            client_headers=False,
            headers={"Content-Type": "application/json", **sent.headers},
            content=sent.body,
        )
        assert answer.status_code == 202, answer.text
        return await finished(answer.json()["data"]["job_id"])


async def finished(job_id: int) -> JobRecord:
    async def done() -> JobRecord | None:
        job = await JobRecord.get(id=job_id)
        return job if job.status in ("SUCCEEDED", "FAILED", "DEAD") else None

    job = await eventually(done, timeout_s=60)
    assert job.status == "SUCCEEDED", (job.status, job.last_error)
    return job


def scripted(*responses: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers as the scripted model plays them, each with the same usage."""
    return [{"text": json.dumps(r), "usage": USAGE} for r in responses]


async def deploy(database_url: str, redis_url: str, tmp_path: Path, *, with_model: bool) -> Deployment:
    fakes = Fakes(FakeSlack().start(), FakeDiscord().start(), FakeJira("cloud").start(), FakeLinear().start())
    script = Script(tmp_path, "feedback")
    models = {}
    if with_model:
        models = {
            "llm.models": [model(1, "feedback", script) | {"prices": PRICES}],
            "llm.code_gen_models": ["feedback"],
            "llm.default_model": "feedback",
            "llm.router.max_retries": 0,
            "feedback.model": "feedback",
        }
    settings = make_settings(
        database_url,
        redis_url,
        **{
            **FAST_JOBS,
            "secrets.keys": KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            # The fakes' messages carry fixed dates (Slack's from 2024): every planted topic counts as recent.
            "feedback.recent_days": 3650,
            **models,
        },
    )
    service = await start_service(settings)
    admin = await service.issue_token(email="ada@example.com")  # the team's first member: its admin
    member = await service.issue_token(email="eve@example.com")
    team = await get_or_create_team("core")
    return Deployment(service, fakes, script, team.id, admin, member)


async def tear_down(built: Deployment) -> None:
    await stop_service(built.service)
    for fake in (built.fakes.slack, built.fakes.discord, built.fakes.jira, built.fakes.linear):
        fake.stop()


@pytest_asyncio.fixture
async def deployment(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    built = await deploy(database_url, redis_url, tmp_path, with_model=True)
    yield built
    await tear_down(built)


@pytest_asyncio.fixture
async def plain_deployment(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    """No model at all: every message is its own candidate and tickets carry evidence only."""
    built = await deploy(database_url, redis_url, tmp_path, with_model=False)
    yield built
    await tear_down(built)
