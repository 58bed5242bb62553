"""A running review deployment on the GitHub fake (tests/review/pr/conftest.py) with the team's Slack
connection to a fake Slack, and helpers to set the repository's `[review.notify]` rules and wait for jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from app.db.models import JobRecord
from app.integrations.connections import ConnectionInput
from tests.conftest import stop_service
from tests.fakes.slack_server import FakeSlack
from tests.jobs.conftest import eventually
from tests.review.pr.conftest import Deployment, deploy
from tests.review.pr.scenarios import RULES

CHANNEL = "C0GENERAL"


@dataclass
class Notified:
    deployment: Deployment
    slack: FakeSlack

    def rules(self, notify: str) -> None:
        """The repository's .adjutant.toml: the review scenario's rules plus this [review.notify] table."""
        self.deployment.scenario.repo.add_file(".adjutant.toml", RULES + "\n[review.notify]\n" + notify)

    def posts(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        return [m for m in self.slack.channels[channel] if m.get("bot_id") == self.slack.bot_id]

    async def finished(self, kind: str, count: int = 1) -> list[JobRecord]:
        async def done() -> list[JobRecord] | None:
            jobs = await JobRecord.filter(kind=kind).order_by("id")
            ended = [j for j in jobs if j.status in ("SUCCEEDED", "DEAD")]
            return ended if len(ended) >= count else None

        return await eventually(done, timeout_s=30)


@pytest_asyncio.fixture
async def notified(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Notified]:
    built = await deploy("github", database_url, redis_url, tmp_path)
    slack = FakeSlack()
    slack.start()
    await built.service.app.ctx.connections.add(
        built.team_id,
        None,
        ConnectionInput(kind="slack", name="slack", base_url=slack.url + "/api", credentials={"token": slack.token}),
    )
    yield Notified(built, slack)
    await stop_service(built.service)
    built.scenario.stop()
    slack.stop()
