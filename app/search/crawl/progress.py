"""A crawl's progress: its rows brought up to date with the index jobs they queued, then counted.

A QUEUED row becomes INDEXED (with `last_indexed_commit`) once the repository it queued is READY for that
same job, FAILED when that job failed, and SKIPPED when another index run superseded it (its outcome is no
longer the crawl's to report).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.db.models import Crawl, CrawlRepository
from app.db.repositories import code
from app.db.repositories import crawls as store
from app.db.repositories.chat import now

ACTIVE = ("PENDING", "CLONING", "INDEXING")


async def reconcile(rows: list[CrawlRepository]) -> list[CrawlRepository]:
    """Settle each QUEUED row whose index job has finished; the rows, updated in place."""
    for row in rows:
        if row.state != "QUEUED":
            continue
        repo = None if row.repository_id is None else await code.repository(row.repository_id)  # type: ignore[attr-defined]
        if repo is None:
            row.state, row.error = "FAILED", "the indexed repository was deleted"
        elif repo.index_job != row.index_job:
            row.state, row.skipped_reason = "SKIPPED", "another index run of the repository replaced this one"
        elif repo.status in ACTIVE:
            continue
        elif repo.status == "READY":
            row.state, row.last_indexed_commit = "INDEXED", row.head_commit
        else:
            row.state, row.error = "FAILED", repo.error or f"indexing ended {repo.status}"
        await store.settle(
            row.id,
            state=row.state,
            error=row.error,
            skipped_reason=row.skipped_reason,
            last_indexed_commit=row.last_indexed_commit,
        )
    return rows


def counts(rows: list[CrawlRepository]) -> dict[str, Any]:
    states = Counter(row.state for row in rows)
    reasons = Counter((row.skipped_reason or "").split(":", 1)[0] for row in rows if row.state == "FILTERED")
    return {
        "listed": len(rows),
        "filtered": states["FILTERED"],
        "filtered_reasons": dict(sorted(reasons.items())),
        "skipped": states["SKIPPED"],
        "unchanged": states["UNCHANGED"],
        "queued": states["QUEUED"],
        "indexed": states["INDEXED"],
        "failed": states["FAILED"],
    }


async def settle_crawl(crawl: Crawl, rows: list[CrawlRepository]) -> None:
    """A crawl that listed everything is SUCCEEDED once none of its index jobs is still running."""
    if crawl.status == "INDEXING" and not any(row.state == "QUEUED" for row in rows):
        crawl.status, crawl.finished_at = "SUCCEEDED", now()
        await store.update(crawl.id, status=crawl.status, finished_at=crawl.finished_at)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def describe_row(row: CrawlRepository) -> dict[str, Any]:
    return {
        "full_name": row.full_name,
        "state": row.state,
        "skipped_reason": row.skipped_reason,
        "head_commit": row.head_commit,
        "last_indexed_commit": row.last_indexed_commit,
        "repository_id": row.repository_id,  # type: ignore[attr-defined]
        "error": row.error,
    }


def describe(crawl: Crawl, connection: str | None, rows: list[CrawlRepository], *, with_rows: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": crawl.id,
        "status": crawl.status,
        "connection": connection,
        "scope": crawl.scope,
        "filters": crawl.filters,
        "job_id": crawl.job_id,
        "progress": counts(rows) | {"pauses": crawl.pauses},
        "error": crawl.error,
        "resume_at": _iso(crawl.resume_at),
        "created_at": _iso(crawl.created_at),
        "started_at": _iso(crawl.started_at),
        "finished_at": _iso(crawl.finished_at),
    }
    if with_rows:
        view["repositories"] = [describe_row(row) for row in rows]
    return view
