"""Repository crawls and the rows of the repositories each listed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.exceptions import IntegrityError

from app.db.models import Crawl, CrawlRepository, Integration

# The states whose row is settled: a crawl run again (resumed after a rate limit) leaves them alone.
DECIDED = ("FILTERED", "SKIPPED", "UNCHANGED", "QUEUED", "INDEXED", "FAILED")


async def create(
    *, team_id: int, connection_id: int, requested_by_id: int | None, scope: dict[str, Any], filters: dict[str, Any]
) -> Crawl:
    return await Crawl.create(
        team_id=team_id, connection_id=connection_id, requested_by_id=requested_by_id, scope=scope, filters=filters
    )


async def crawl(crawl_id: int) -> Crawl | None:
    return await Crawl.get_or_none(id=crawl_id)


async def team_crawl(team_id: int, crawl_id: int) -> Crawl | None:
    return await Crawl.get_or_none(id=crawl_id, team_id=team_id)


async def team_crawls(team_id: int, *, limit: int = 50) -> list[Crawl]:
    return await Crawl.filter(team_id=team_id).order_by("-id").limit(limit)


async def update(crawl_id: int, **fields: Any) -> None:
    await Crawl.filter(id=crawl_id).update(**fields)


async def rows(crawl_id: int) -> list[CrawlRepository]:
    return await CrawlRepository.filter(crawl_id=crawl_id).order_by("full_name")


async def rows_of_crawls(crawl_ids: Sequence[int]) -> list[CrawlRepository]:
    return await CrawlRepository.filter(crawl_id__in=list(crawl_ids))


async def row(crawl_id: int, full_name: str) -> CrawlRepository | None:
    return await CrawlRepository.get_or_none(crawl_id=crawl_id, full_name=full_name)


async def record(*, team_id: int, crawl_id: int, full_name: str, state: str, **fields: Any) -> CrawlRepository:
    """The crawl's row for the repository, created with `state` (or, if a run already made it, that one)."""
    try:
        return await CrawlRepository.create(
            team_id=team_id, crawl_id=crawl_id, full_name=full_name, state=state, **fields
        )
    except IntegrityError:
        return await CrawlRepository.get(crawl_id=crawl_id, full_name=full_name)


async def settle(row_id: int, **fields: Any) -> None:
    await CrawlRepository.filter(id=row_id).update(**fields)


async def earlier_rows(team_id: int, full_name: str, *, before_crawl: int) -> list[CrawlRepository]:
    """Rows of the team's earlier crawls still waiting for this repository's index job."""
    return await CrawlRepository.filter(
        team_id=team_id, full_name=full_name, crawl_id__lt=before_crawl, state="QUEUED"
    ).order_by("id")


async def last_indexed_commit(team_id: int, full_name: str) -> str | None:
    found = (
        await CrawlRepository.filter(team_id=team_id, full_name=full_name, last_indexed_commit__isnull=False)
        .order_by("-id")
        .first()
    )
    return found.last_indexed_commit if found else None


async def connection_row(team_id: int, connection_id: int) -> Integration | None:
    """The crawl's connection, if the team still has it."""
    return await Integration.get_or_none(id=connection_id, team_id=team_id)
