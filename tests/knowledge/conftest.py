"""Teams with knowledge sources, and an embedder that counts what it embeds (the real local model)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.db.models import KnowledgeSource
from app.db.repositories import knowledge as store
from app.db.repositories.identity import get_or_create_team
from app.integrations.runtime import IntegrationRuntime
from app.knowledge.ingest import ImportStats, Ingest
from app.knowledge.items import KnowledgeItem
from app.knowledge.retrieval import KnowledgeSearch
from tests.integrations.conftest import integration_settings
from tests.search.conftest import CountingEmbedder


@pytest_asyncio.fixture
async def runtime(redis_url: str) -> AsyncIterator[IntegrationRuntime]:
    """The integration clients' runtime, as the integration tests build it (127.0.0.1 allow-listed)."""
    redis = aioredis.Redis.from_url(redis_url)
    built = IntegrationRuntime(integration_settings(), redis=redis, key_prefix="test:")
    yield built
    built.close()
    await redis.aclose()


@pytest.fixture
def counting_embedder() -> CountingEmbedder:
    return CountingEmbedder()


async def make_source(team: str, name: str, kind: str = "docs") -> KnowledgeSource:
    owner = await get_or_create_team(team)
    return await store.get_or_create_source(team_id=owner.id, kind=kind, name=name, config={})


async def items_of(items: list[KnowledgeItem]) -> AsyncIterator[KnowledgeItem]:
    for item in items:
        yield item


async def ingest(
    source: KnowledgeSource, items: list[KnowledgeItem], embedder: CountingEmbedder, *, prune: bool = False
) -> ImportStats:
    run = Ingest(team_id=source.team_id, source_id=source.id, embedder=embedder, max_chunk_chars=1200, max_items=1000)
    return await run.run(items_of(items), prune=prune)


def engine(embedder: CountingEmbedder) -> KnowledgeSearch:
    return KnowledgeSearch(lambda: embedder, candidates=50, rrf_k=10, ef_search=100, weights={"fts": 0.5})
