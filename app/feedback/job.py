"""The `feedback.run` job (one run over a team's sources; schedulable, weekly by default) and the Jira / Linear
issue-update webhooks that move documentation tickets.

A worker process has no chat machinery, so the jobs build what they need from the settings on first use:
the team's connections, the local embedder, and the model router for the optional model passes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from app.db.repositories import feedback as feedback_store
from app.db.repositories import schedules as schedule_store
from app.feedback.loop import ResolutionLoop
from app.feedback.model import FeedbackModel, feedback_model
from app.feedback.runs import FeedbackRunner, run_summary
from app.feedback.tickets import TicketDesk
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.jobs.interface import Job, JobHandlers
from app.jobs.schedules import next_tick
from app.jobs.webhook_events import WebhookEvents
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings
from app.search.embeddings import local_embedder

KIND = "feedback.run"
SCHEDULE_NAME = "feedback-weekly"
log = logging.getLogger("adjutant.feedback")


class RunPayload(BaseModel):
    trigger: Literal["schedule", "api", "cli"] = "schedule"


class FeedbackJobs:
    def __init__(self, settings: Settings, *, redis: Any | None = None, connections: Connections | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self._connections = connections
        self._model: FeedbackModel | None = None
        self._model_built = False

    def connections(self) -> Connections:
        if self._connections is None:
            runtime = IntegrationRuntime(
                self.settings.integrations, redis=self.redis, key_prefix=self.settings.redis.key_prefix
            )
            self._connections = Connections(load_secret_box(self.settings), runtime)
        return self._connections

    def model(self) -> FeedbackModel | None:
        if not self._model_built:
            registry = ModelRegistry(self.settings.llm, self.settings.providers)
            pool = ProviderPool(self.settings.providers, self.settings.llm.router)
            self._model = feedback_model(self.settings, registry, LLMRouter(registry, pool, self.settings.llm.router))
            self._model_built = True
        return self._model

    def desk(self) -> TicketDesk:
        return TicketDesk(self.connections(), quote_limit=self.settings.feedback.quotes_per_ticket)

    def runner(self) -> FeedbackRunner:
        embedder = local_embedder(self.settings.search.embedding_threads)
        return FeedbackRunner(self.settings.feedback, self.connections(), embedder, self.model(), desk=self.desk())

    def loop(self) -> ResolutionLoop:
        return ResolutionLoop(self.connections(), notify=self.settings.feedback.notify_sources)

    def register(self, handlers: JobHandlers, webhooks: WebhookEvents) -> None:
        handlers.register(
            KIND,
            self.handle,
            max_attempts=2,
            timeout_s=max(self.settings.jobs.default_timeout_s, 1800.0),
            concurrency=1,
            schedulable=True,
            payload_model=RunPayload,
        )
        webhooks.on("jira", "jira:issue_updated", self.on_jira)
        webhooks.on("linear", "Issue", self.on_linear)

    async def handle(self, job: Job) -> dict[str, Any]:
        payload = RunPayload.model_validate(job.payload)
        run = await self.runner().run(job.team_id, trigger=payload.trigger, job_id=job.id)
        return run_summary(run)

    async def on_jira(self, job: Job) -> dict[str, Any]:
        return await self.loop().on_jira(job)

    async def on_linear(self, job: Job) -> dict[str, Any]:
        return await self.loop().on_linear(job)


async def ensure_weekly(team_id: int, cron: str) -> bool:
    """The team's weekly run, added when its first run starts; True when it was added now. Later runs never
    add it again, so a team that removed the schedule keeps it removed."""
    if await feedback_store.team_runs(team_id, 1):
        return False
    for schedule in await schedule_store.team_schedules(team_id):
        if schedule.kind == KIND:
            return False
    created = await schedule_store.create(
        team_id=team_id,
        name=SCHEDULE_NAME,
        kind=KIND,
        payload=RunPayload().model_dump(),
        cron=cron,
        time_zone="UTC",
        next_run_at=next_tick(cron, "UTC", datetime.now(UTC)),
    )
    return created is not None
