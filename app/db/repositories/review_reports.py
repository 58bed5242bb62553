"""Reads behind the review's notices, digests and reports: a repository's review runs, comments and audit events
over a window, and the state of its pull requests as our records know it. Every read is scoped to a team."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tortoise import Tortoise

from app.db.models import PrReview, PrReviewComment, PrReviewPull

EVENTS_MAX = 20_000  # a week of one repository's events is far fewer; the cap bounds a runaway trail


async def repository_pulls(team_id: int, repo: str, *, connection_id: int | None = None) -> list[PrReviewPull]:
    query = PrReviewPull.filter(team_id=team_id, repo=repo)
    if connection_id is not None:
        query = query.filter(connection_id=connection_id)
    return await query.order_by("id")


async def runs_since(pull_ids: Iterable[int], since: datetime) -> list[PrReview]:
    ids = list(pull_ids)
    if not ids:
        return []
    return await PrReview.filter(pull_id__in=ids, posting=True, started_at__gte=since).order_by("id")


async def run_ids(pull_ids: Iterable[int]) -> set[int]:
    ids = list(pull_ids)
    if not ids:
        return set()
    return set(await PrReview.filter(pull_id__in=ids).values_list("id", flat=True))


async def comments_since(pull_ids: Iterable[int], since: datetime) -> list[PrReviewComment]:
    ids = list(pull_ids)
    if not ids:
        return []
    return await PrReviewComment.filter(pull_id__in=ids, created_at__gte=since).order_by("id")


async def open_comments(pull_ids: Iterable[int]) -> list[PrReviewComment]:
    ids = list(pull_ids)
    if not ids:
        return []
    return await PrReviewComment.filter(pull_id__in=ids, state="POSTED").order_by("id")


async def last_runs(pull_ids: Iterable[int]) -> dict[int, PrReview]:
    """Each pull request's newest finished posting run."""
    ids = list(pull_ids)
    if not ids:
        return {}
    runs = await PrReview.filter(pull_id__in=ids, posting=True).exclude(status="RUNNING").order_by("-id")
    latest: dict[int, PrReview] = {}
    for run in runs:
        latest.setdefault(run.pull_id, run)  # type: ignore[attr-defined]
    return latest


async def events_since(team_id: int, since: datetime, actions: Iterable[str]) -> list[dict[str, Any]]:
    """The team's audit events of these actions since `since`: action, target and details."""
    return await Tortoise.get_connection("default").execute_query_dict(
        "SELECT action, target, details FROM audit_events "
        "WHERE team_id = $1 AND created_at >= $2 AND action = ANY($3::text[]) ORDER BY id LIMIT $4",
        [team_id, since, list(actions), EVENTS_MAX],
    )
