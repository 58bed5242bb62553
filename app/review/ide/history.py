"""Past reviews as the Code Review panel shows them (docs/review-protocol.md §4.7, §7.4): the principal's completed
reviews, newest first, capped, each with a key for every reviewed file and its final comments."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from app.db.models import IdeReview, IdeReviewComment, IdeReviewCommentFeedback
from app.db.ownership import Owner, parse_id
from app.db.repositories import ide_reviews as repo
from app.review.ide.wire import HistoryQuery


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def comment_view(comment: IdeReviewComment, feedback: IdeReviewCommentFeedback | None) -> dict[str, Any]:
    return {
        "id": comment.id,
        "title": comment.title,
        "comment": comment.comment,
        "rationale": comment.rationale,
        "corrective_code": comment.corrective_code,
        "file_path": comment.file_path,
        "line_number": comment.line_number,
        "tag": comment.tag,
        "comment_status": comment.comment_status,
        "agent_ids": list(comment.agent_ids),
        "feedback": {"like": feedback.liked, "feedback_comment": feedback.feedback_comment} if feedback else None,
        "line_hash": "",
    }


async def past_reviews(owner: Owner, query: HistoryQuery, *, cap: int) -> list[dict[str, Any]]:
    """`repo_id` 0 or absent and a blank `source_branch` do not filter (the client sends them before it knows)."""
    where = repo.HistoryFilter(
        repo_id=parse_id(query.repo_id) if query.repo_id else None,
        source_branch=query.source_branch,
        target_branch=query.target_branch,
    )
    if query.repo_id and where.repo_id is None:
        return []  # an id beyond the id range names no repository
    reviews = await repo.completed_reviews(owner, where, limit=cap)
    comments = await repo.comments_of(r.id for r in reviews)
    feedback = await repo.feedback_of(owner, (c.id for c in comments))
    agents = await repo.agents_named(owner, (a for c in comments for a in c.agent_ids))
    by_review: dict[int, list[IdeReviewComment]] = {}
    for comment in comments:
        by_review.setdefault(comment.review_id, []).append(comment)
    return [_review_view(r, by_review.get(r.id, []), feedback, agents) for r in reviews]


def _review_view(
    review: IdeReview,
    comments: list[IdeReviewComment],
    feedback: dict[int, IdeReviewCommentFeedback],
    agents: dict[int, Any],
) -> dict[str, Any]:
    files: dict[str, list[dict[str, Any]]] = {path: [] for path in review.reviewed_files}
    for comment in comments:
        files.setdefault(comment.file_path, []).append(comment_view(comment, feedback.get(comment.id)))
    counts: Counter[int] = Counter(a for c in comments for a in c.agent_ids)
    summary = [
        {
            "id": agent_id,
            "name": agents[agent_id].agent_name if agent_id in agents else "unknown",
            "display_name": agents[agent_id].display_name if agent_id in agents else "Removed agent",
            "count": count,
        }
        for agent_id, count in sorted(counts.items())
    ]
    return {
        "id": review.id,
        "title": review.title or "Code review",
        "execution_time_seconds": review.execution_time_seconds,
        "review_datetime": iso(review.review_datetime),
        "comments": files,
        "agent_summary": summary,
        "tag_summary": dict(Counter(c.tag for c in comments)),
        "meta": {"file_count": len(files), "comment_count": len(comments)},
        "feedback": None,
    }
