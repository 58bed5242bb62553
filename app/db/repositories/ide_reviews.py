"""Queries of the IDE review (docs/review-protocol.md §4, §6, §7): repositories, agents, reviews, comments and
feedback (agent runs are `ide_review_runs`). Every function takes the owner's ids or rows already
ownership-checked by the caller; state changes that race (a cancel against a finishing step, two post-processes,
two first listings of the agents) are single conditional statements or short transactions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import (
    IdeReview,
    IdeReviewAgent,
    IdeReviewComment,
    IdeReviewCommentFeedback,
    Session,
)
from app.db.ownership import Owner

OPEN = "IN_PROGRESS"
REVIEW_SESSION_TYPE = "EXTENSION_REVIEW"


def now() -> datetime:
    return datetime.now(UTC)


def _db() -> Any:
    return Tortoise.get_connection("default")


# --- repositories ---------------------------------------------------------------------------------------------


def origin_hash(origin_url: str) -> str:
    return hashlib.sha256(origin_url.encode()).hexdigest()


async def find_or_create_repo(team_id: int, repo_name: str, origin_url: str, connection: Any = None) -> int:
    """The team's repository id for (repo_name, origin_url); concurrent first calls share one row."""
    db = connection or _db()
    digest = origin_hash(origin_url)
    rows = await db.execute_query_dict(
        "INSERT INTO ide_review_repos (team_id, repo_name, origin_url, origin_hash) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (team_id, repo_name, origin_hash) DO NOTHING RETURNING id",
        [team_id, repo_name, origin_url, digest],
    )
    if rows:
        return int(rows[0]["id"])
    rows = await db.execute_query_dict(
        "SELECT id FROM ide_review_repos WHERE team_id = $1 AND repo_name = $2 AND origin_hash = $3",
        [team_id, repo_name, digest],
    )
    return int(rows[0]["id"])


# --- agents -----------------------------------------------------------------------------------------------------


async def live_agents(owner: Owner) -> list[IdeReviewAgent]:
    return await IdeReviewAgent.filter(team_id=owner.team_id, user_id=owner.user_id, deleted_at__isnull=True).order_by(
        "id"
    )


async def insert_default_agents(owner: Owner, defaults: Iterable[dict[str, Any]]) -> None:
    """Insert the predefined agents unless live ones of those names exist: racing first listings of one principal
    insert one set between them (the live-name index decides), never two."""
    async with in_transaction() as connection:
        for agent in defaults:
            await connection.execute_query(
                "INSERT INTO ide_review_agents (team_id, user_id, agent_name, display_name, custom_prompt, objective, "
                "is_custom_agent, confidence_score) VALUES ($1, $2, $3, $4, '', $5, FALSE, $6) "
                "ON CONFLICT (team_id, user_id, display_name) WHERE deleted_at IS NULL DO NOTHING",
                [
                    owner.team_id,
                    owner.user_id,
                    agent["agent_name"],
                    agent["display_name"],
                    agent["objective"],
                    agent["confidence_score"],
                ],
            )


async def create_agent(owner: Owner, **fields: Any) -> IdeReviewAgent | None:
    """None when a live agent of the owner already has that display name."""
    try:
        return await IdeReviewAgent.create(team_id=owner.team_id, user_id=owner.user_id, **fields)
    except IntegrityError:
        return None


async def update_agent(agent: IdeReviewAgent, **changes: Any) -> bool:
    """False when the new display name is taken by another live agent of the owner (nothing changes)."""
    try:
        await IdeReviewAgent.filter(id=agent.id, deleted_at__isnull=True).update(updated_at=now(), **changes)
    except IntegrityError:
        return False
    for name, value in changes.items():
        setattr(agent, name, value)
    return True


async def soft_delete_agent(agent: IdeReviewAgent) -> None:
    await IdeReviewAgent.filter(id=agent.id, deleted_at__isnull=True).update(deleted_at=now())


async def live_agent(owner: Owner, agent_id: int) -> IdeReviewAgent | None:
    return await IdeReviewAgent.filter(
        id=agent_id, team_id=owner.team_id, user_id=owner.user_id, deleted_at__isnull=True
    ).first()


async def agents_named(owner: Owner, agent_ids: Iterable[int]) -> dict[int, IdeReviewAgent]:
    """The owner's agents by id, deleted ones included (old comments still name them)."""
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    rows = await IdeReviewAgent.filter(team_id=owner.team_id, user_id=owner.user_id, id__in=ids)
    return {row.id: row for row in rows}


# --- reviews ---------------------------------------------------------------------------------------------------


async def create_review(owner: Owner, *, repo_name: str, origin_url: str, **fields: Any) -> tuple[IdeReview, list[int]]:
    """The repository record, a hidden session and the review, in one transaction; the owner's unfinished
    reviews of that repository are cancelled in it (their ids are returned, for the running steps)."""
    async with in_transaction() as connection:
        repo_id = await find_or_create_repo(owner.team_id, repo_name, origin_url, connection)
        rows = await connection.execute_query_dict(
            "UPDATE ide_reviews SET status = 'CANCELLED', updated_at = now() "
            "WHERE team_id = $1 AND user_id = $2 AND repo_id = $3 AND status = 'IN_PROGRESS' RETURNING id",
            [owner.team_id, owner.user_id, repo_id],
        )
        superseded = [int(r["id"]) for r in rows]
        if superseded:
            await _cancel_runs(connection, superseded)
        session = await Session.create(
            team_id=owner.team_id,
            user_id=owner.user_id,
            session_type=REVIEW_SESSION_TYPE,
            summary="IDE review",
            is_auxiliary=True,
            using_db=connection,
        )
        review = await IdeReview.create(
            team_id=owner.team_id,
            user_id=owner.user_id,
            repo_id=repo_id,
            session_id=session.id,
            using_db=connection,
            **fields,
        )
    return review, superseded


async def owned_review(owner: Owner, review_id: int) -> IdeReview | None:
    return await IdeReview.filter(id=review_id, team_id=owner.team_id, user_id=owner.user_id).first()


async def repository_name(review_id: int) -> str:
    """The repository a review is of, as the extension names it (what its feedback is counted under)."""
    names = await IdeReview.filter(id=review_id).values_list("repo__repo_name", flat=True)
    return str(names[0]) if names else ""


async def open_reviews_among(review_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(review_ids))
    if not ids:
        return set()
    rows = await _db().execute_query_dict(
        "SELECT id FROM ide_reviews WHERE id = ANY($1::bigint[]) AND status = 'IN_PROGRESS'", [ids]
    )
    return {int(r["id"]) for r in rows}


async def cancel_review(review_id: int) -> bool:
    """IN_PROGRESS -> CANCELLED with its unfinished runs; False when the review had already ended."""
    async with in_transaction() as connection:
        count, _ = await connection.execute_query(
            "UPDATE ide_reviews SET status = 'CANCELLED', updated_at = now() WHERE id = $1 AND status = 'IN_PROGRESS'",
            [review_id],
        )
        if count:
            await _cancel_runs(connection, [review_id])
    return bool(count)


async def _cancel_runs(connection: Any, review_ids: list[int]) -> None:
    await connection.execute_query(
        "UPDATE ide_review_agent_runs SET status = 'CANCELLED', pending_tool_use_id = NULL, updated_at = now(), "
        "finished_at = now() WHERE review_id = ANY($1::bigint[]) AND status IN ('RUNNING', 'WAITING_TOOL')",
        [review_ids],
    )


async def fail_review(review_id: int, reason: str) -> bool:
    count, _ = await _db().execute_query(
        "UPDATE ide_reviews SET status = 'FAILED', failure = $2, updated_at = now() "
        "WHERE id = $1 AND status = 'IN_PROGRESS'",
        [review_id, reason],
    )
    return bool(count)


FinalizeResult = Literal["completed", "already", "ended"]


async def finalize_review(
    review: IdeReview, comments: list[dict[str, Any]], *, title: str, execution_time_seconds: int
) -> FinalizeResult:
    """Store the final comments and complete the review, all in one commit (history lists it as soon as the
    client hears of it); "already" when another post-process did it first, "ended" when it was cancelled."""
    async with in_transaction() as connection:
        rows = await connection.execute_query_dict(
            "SELECT status FROM ide_reviews WHERE id = $1 FOR UPDATE", [review.id]
        )
        status = rows[0]["status"] if rows else None
        if status == "COMPLETED":
            return "already"
        if status != OPEN:
            return "ended"
        await IdeReviewComment.bulk_create(
            [
                IdeReviewComment(team_id=review.team_id, user_id=review.user_id, review_id=review.id, **comment)
                for comment in comments
            ],
            using_db=connection,
        )
        await connection.execute_query(
            "UPDATE ide_reviews SET status = 'COMPLETED', title = $2, review_datetime = now(), "
            "execution_time_seconds = $3, updated_at = now() WHERE id = $1",
            [review.id, title, execution_time_seconds],
        )
    return "completed"


@dataclass(frozen=True)
class HistoryFilter:
    repo_id: int | None = None
    source_branch: str | None = None
    target_branch: str | None = None


async def completed_reviews(owner: Owner, where: HistoryFilter, *, limit: int) -> list[IdeReview]:
    query = IdeReview.filter(team_id=owner.team_id, user_id=owner.user_id, status="COMPLETED")
    if where.repo_id:
        query = query.filter(repo_id=where.repo_id)
    if where.source_branch:
        query = query.filter(source_branch=where.source_branch)
    if where.target_branch:
        query = query.filter(target_branch=where.target_branch)
    return await query.order_by("-review_datetime", "-id").limit(limit)


# --- comments and feedback ---------------------------------------------------------------------------------------


async def owned_comment(owner: Owner, comment_id: int) -> IdeReviewComment | None:
    return await IdeReviewComment.filter(id=comment_id, team_id=owner.team_id, user_id=owner.user_id).first()


async def set_comment_status(comment_id: int, status: str) -> None:
    await IdeReviewComment.filter(id=comment_id).update(comment_status=status, updated_at=now())


async def put_feedback(owner: Owner, comment_id: int, *, liked: bool, feedback_comment: str | None) -> None:
    """One row per (comment, user), replaced by every call: the last one wins, an absent text clears it."""
    await _db().execute_query(
        "INSERT INTO ide_review_comment_feedback (team_id, user_id, comment_id, liked, feedback_comment) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (comment_id, user_id) DO UPDATE SET liked = EXCLUDED.liked, "
        "feedback_comment = EXCLUDED.feedback_comment, updated_at = now()",
        [owner.team_id, owner.user_id, comment_id, liked, feedback_comment],
    )


async def comments_of(review_ids: Iterable[int]) -> list[IdeReviewComment]:
    ids = sorted(set(review_ids))
    if not ids:
        return []
    return await IdeReviewComment.filter(review_id__in=ids).order_by("review_id", "file_path", "line_number", "id")


async def feedback_of(owner: Owner, comment_ids: Iterable[int]) -> dict[int, IdeReviewCommentFeedback]:
    ids = sorted(set(comment_ids))
    if not ids:
        return {}
    rows = await IdeReviewCommentFeedback.filter(user_id=owner.user_id, team_id=owner.team_id, comment_id__in=ids)
    return {row.comment_id: row for row in rows}


async def feedback_by_category(team_id: int, repo_id: int) -> list[dict[str, Any]]:
    """Thumbs on the team's IDE review comments of one repository, per comment category (for precision)."""
    return await _db().execute_query_dict(
        "SELECT c.category, count(*) FILTER (WHERE f.liked) AS liked, count(*) FILTER (WHERE NOT f.liked) AS disliked "
        "FROM ide_review_comment_feedback f JOIN ide_review_comments c ON c.id = f.comment_id "
        "JOIN ide_reviews r ON r.id = c.review_id WHERE r.team_id = $1 AND r.repo_id = $2 GROUP BY c.category "
        "ORDER BY c.category",
        [team_id, repo_id],
    )
