"""A running service with a scripted review model and fast jobs, one team with an admin and a member, and a
connection to one platform's fake whose webhooks are signed with the connection's secret."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from app.db.models import JobRecord
from app.db.repositories.identity import get_or_create_team
from app.integrations.connections import ConnectionInput
from tests.api.scripted_models import Script, model
from tests.conftest import RunningService, make_settings, start_service, stop_service
from tests.jobs.conftest import FAST_JOBS, eventually
from tests.review.pr.scenarios import SCENARIOS, Scenario

KEYS = "test:" + base64.b64encode(bytes(range(32))).decode()
SECRET = "whsec-review-secret-1"


@dataclass
class Deployment:
    service: RunningService
    scenario: Scenario
    script: Script
    team_id: int
    webhook_path: str
    connection_id: str
    admin: str  # tokens
    member: str

    async def deliver(self, *, pushed: bool, secret: str = SECRET) -> Any:
        headers, body = self.scenario.delivery(secret, pushed=pushed)
        return await self.service.request(
            "POST",
            self.webhook_path,
            client_headers=False,
            headers={"Content-Type": "application/json", **headers},
            content=body,
        )

    async def comment(self, text: str, *, by: str, comment_id: int) -> Any:
        headers, body = self.scenario.comment_delivery(SECRET, text, by=by, comment_id=comment_id)
        return await self.service.request(
            "POST",
            self.webhook_path,
            client_headers=False,
            headers={"Content-Type": "application/json", **headers},
            content=body,
        )

    async def reviewed(self, count: int, kind: str = "review.pull_request") -> list[JobRecord]:
        """Wait until `count` jobs of the kind have finished; they must have succeeded."""

        async def finished() -> list[JobRecord] | None:
            jobs = await JobRecord.filter(kind=kind).order_by("id")
            done = [j for j in jobs if j.status in ("SUCCEEDED", "DEAD", "FAILED")]
            return jobs if len(done) >= count else None

        jobs = await eventually(finished, timeout_s=20)
        for job in jobs:
            assert job.status == "SUCCEEDED", (job.status, job.last_error)
        return jobs

    async def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        return await self.service.request(method, path, token=token or self.admin, client_headers=False, **kwargs)


def review_settings(database_url: str, redis_url: str, script: Script, **extra: Any) -> Any:
    return make_settings(
        database_url,
        redis_url,
        **{
            **FAST_JOBS,
            "secrets.keys": KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            "llm.models": [model(1, "reviewer", script)],
            "llm.code_gen_models": ["reviewer"],
            "llm.default_model": "reviewer",
            "llm.router.max_retries": 0,
            "chat.summary_model": "reviewer",
            "review.model": "reviewer",
            "review.critic": False,
            **extra,
        },
    )


async def deploy(platform: str, database_url: str, redis_url: str, tmp_path: Path) -> Deployment:
    scenario = SCENARIOS[platform]().start()
    scenario.seed()
    script = Script(tmp_path, "reviewer")
    service = await start_service(review_settings(database_url, redis_url, script))
    admin = await service.issue_token(email="ada@example.com")  # the team's first member: its admin
    member = await service.issue_token(email="eve@example.com")
    team = await get_or_create_team("core")
    view = await service.app.ctx.connections.add(
        team.id,
        None,
        ConnectionInput(
            kind=platform,
            name=f"{platform}-main",
            base_url=scenario.url,
            credentials=scenario.credentials,
            webhook_secret=SECRET,
        ),
    )
    return Deployment(service, scenario, script, team.id, view.webhook_path, view.id, admin, member)


@pytest_asyncio.fixture
async def deployment(request, database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    built = await deploy(request.param, database_url, redis_url, tmp_path)
    yield built
    await stop_service(built.service)
    built.scenario.stop()
