"""The IDE review's REST work (docs/review-protocol.md §4.6, §4.8-§4.12): repository ids, pre-process with its
rejection rule, cancel, and what a user does with a comment (status, feedback, fix query)."""

from __future__ import annotations

import logging
from typing import Any

from app.db.models import IdeReview, IdeReviewComment
from app.db.ownership import Owner, parse_id
from app.db.repositories import ide_reviews as repo
from app.db.repositories import review_feedback as signals
from app.db.repositories.review_feedback import Signal
from app.errors import NotFound
from app.review.ide import diffs
from app.review.ide.limits import IdeReviewLimits
from app.review.ide.running import RunningReviews
from app.review.ide.wire import Cancelled, FeedbackBody, PreProcessRequest, PreProcessResult

log = logging.getLogger("adjutant.review")
REJECTED = ("REJECTED_NO_DIFF", "REJECTED_LARGE_SIZE")


def rejection_message(review: IdeReview, limits: IdeReviewLimits) -> str:
    """What every agent of a rejected review fails with (the user reads it as the review's outcome)."""
    if review.status == "REJECTED_NO_DIFF":
        return "There are no changes to review: every file's diff is empty."
    return (
        f"The changes are too large to review: about {review.diff_tokens} tokens, over the limit of "
        f"{limits.token_limit}. Review fewer files at a time."
    )


async def repo_id(owner: Owner, repo_name: str, origin_url: str) -> int:
    return await repo.find_or_create_repo(owner.team_id, repo_name, origin_url)


async def pre_process(
    owner: Owner, body: PreProcessRequest, limits: IdeReviewLimits, running: RunningReviews
) -> dict[str, Any]:
    """Store a new review with its diff. An empty or too large diff still gets a review, stored as rejected,
    whose agents then fail with the reason: the client's only readable failure path for this step."""
    review_diff = await diffs.build(body.file_wise_diff)
    if review_diff.empty:
        status = "REJECTED_NO_DIFF"
    elif review_diff.tokens > limits.token_limit:
        status = "REJECTED_LARGE_SIZE"
    else:
        status = "IN_PROGRESS"
    review, superseded = await repo.create_review(
        owner,
        repo_name=body.repo_name,
        origin_url=body.origin_url,
        source_branch=body.source_branch,
        target_branch=body.target_branch,
        source_commit=body.source_commit,
        target_commit=body.target_commit,
        review_type=body.review_type,
        status=status,
        reviewed_files=review_diff.reviewed_files,
        file_diffs=review_diff.stored,
        loc=review_diff.loc,
        diff_tokens=min(review_diff.tokens, 2**31 - 1),
    )
    if superseded:
        # A newer review of the same repository: the older ones' frames would land on this one's agents.
        log.info("review %s supersedes unfinished reviews %s", review.id, superseded)
        await running.stop(review_ids=superseded)
    result = PreProcessResult(review_id=review.id, session_id=review.session_id or review.id, repo_id=review.repo_id)
    return result.model_dump()


async def owned_review(owner: Owner, raw_id: Any) -> IdeReview:
    review_id = parse_id(raw_id)
    review = await repo.owned_review(owner, review_id) if review_id is not None else None
    if review is None:
        raise NotFound("review not found")
    return review


async def cancel(owner: Owner, raw_id: Any, running: RunningReviews) -> dict[str, Any]:
    """Idempotent for any owned review; an unfinished one is cancelled and its running steps stopped."""
    review = await owned_review(owner, raw_id)
    if await repo.cancel_review(review.id):
        await running.stop(review_ids=[review.id])
        message = "The review was cancelled."
    else:
        message = "The review had already ended."
    return Cancelled(status="CANCELLED", message=message).model_dump()


async def owned_comment(owner: Owner, raw_id: Any) -> IdeReviewComment:
    comment_id = parse_id(raw_id)
    comment = await repo.owned_comment(owner, comment_id) if comment_id is not None else None
    if comment is None:
        raise NotFound("comment not found")
    return comment


async def set_status(owner: Owner, raw_id: Any, status: str) -> dict[str, Any]:
    comment = await owned_comment(owner, raw_id)
    await repo.set_comment_status(comment.id, status)
    return {"message": f"Comment {comment.id} is now {status}"}


async def feedback(owner: Owner, raw_id: Any, body: FeedbackBody) -> dict[str, Any]:
    comment = await owned_comment(owner, raw_id)
    text = body.feedback_comment if body.feedback_comment and body.feedback_comment.strip() else None
    await repo.put_feedback(owner, comment.id, liked=body.like, feedback_comment=text)
    name = await repo.repository_name(comment.review_id)
    vote = Signal(
        name,
        (comment.category or comment.tag).lower(),
        "ide",
        str(comment.id),
        "ide_vote",
        str(owner.user_id),
        body.like,
    )
    if name:
        await signals.record(owner.team_id, vote, replace=True)  # a changed vote replaces the earlier one
    return {"comment_id": comment.id, "like": body.like, "feedback_comment": text}


def _cut(text: str, limit: int, what: str) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"\n... ({what} cut here)"


def fix_query_text(comment: IdeReviewComment, limits: IdeReviewLimits) -> str:
    """A self-contained chat message asking for the fix. It travels as a chat query, so every part is bounded
    and the whole stays within `fix_query_chars`."""
    share = max(limits.fix_query_chars // 4, 200)
    code = _cut(comment.corrective_code, min(limits.corrective_code_chars, share), "the suggested fix is")
    parts = [
        f"Fix this code review comment on `{comment.file_path}`, line {comment.line_number}.",
        f"Comment: {_cut(comment.title, 300, 'the title is')}",
        _cut(comment.comment, share, "the comment is"),
    ]
    if comment.rationale.strip():
        parts.append(f"Rationale: {_cut(comment.rationale, share, 'the rationale is')}")
    if code:
        fenced = code if code.startswith("```") else f"```\n{code}\n```"
        parts.append(f"Suggested fix:\n{fenced}")
    parts.append(
        f"Read `{comment.file_path}` around line {comment.line_number}, then reply with the corrected code in a "
        "code block and a short explanation of the change."
    )
    return "\n\n".join(parts)


async def fix_query(owner: Owner, raw_id: Any, limits: IdeReviewLimits) -> dict[str, Any]:
    comment = await owned_comment(owner, raw_id)
    return {"fix_query": fix_query_text(comment, limits)}
