"""What one pull-request review needs, opened from settings for the run and closed after it: the team's
connection with its credentials and checked address, that platform's client, and the review model. Built per
run so the same code serves a worker process, `adjutant serve` and the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.integrations.clients import client_for
from app.integrations.connection import SCM_KINDS, ConnectionInfo
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.review.conversation import ReviewModel
from app.review.pr.platforms import Platform, platform_for
from app.review.pr.tickets import TicketSource
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings


@dataclass
class ReviewKit:
    connections: Connections
    model: ReviewModel

    @property
    def tickets(self) -> TicketSource:
        """The pull requests' linked tickets, through the team's Jira and Linear connections."""
        return TicketSource(self.connections)

    @asynccontextmanager
    async def platform(self, connection: ConnectionInfo) -> AsyncIterator[Platform]:
        """The connection's platform, its address checked again (a name may resolve elsewhere since it was
        added)."""
        if connection.kind not in SCM_KINDS:
            raise ValueError(f"a {connection.kind} connection cannot review pull requests")
        await self.connections.check_address(connection.base_url)
        platform = platform_for(connection.kind, client_for(connection, self.connections.runtime))
        try:
            yield platform
        finally:
            await platform.aclose()


def review_model_name(settings: Settings, registry: ModelRegistry) -> str:
    return registry.get(settings.review.model).name if settings.review.model else registry.default().name


@asynccontextmanager
async def review_kit(settings: Settings, *, redis: Any | None) -> AsyncIterator[ReviewKit]:
    runtime = IntegrationRuntime(settings.integrations, redis=redis, key_prefix=settings.redis.key_prefix)
    pool = ProviderPool(settings.providers, settings.llm.router)
    try:
        registry = ModelRegistry(settings.llm, settings.providers)
        router = LLMRouter(registry, pool, settings.llm.router)
        model = ReviewModel(
            router,
            review_model_name(settings, registry),
            timeout_s=settings.review.model_timeout_s,
            max_output_tokens=settings.review.max_output_tokens,
        )
        yield ReviewKit(Connections(load_secret_box(settings), runtime), model)
    finally:
        await pool.aclose()
        runtime.close()
