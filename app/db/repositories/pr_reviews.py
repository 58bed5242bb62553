"""Pull-request review state: the pull requests a connection reviews, their runs, the comments posted on them,
and each connection's permission to approve. Reads a client reaches are scoped to its team."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from app.db.models import Integration, PrReview, PrReviewComment, PrReviewPull, ReviewConnectionSettings

OPEN_STATES = ("PENDING", "POSTED")


async def team_connection(team_id: int, connection_id: int) -> Integration | None:
    """The connection a job names, if it still exists and is still the team's."""
    return await Integration.get_or_none(id=connection_id, team_id=team_id)


# --- pull requests ----------------------------------------------------------------------------------------------


async def find_pull(connection_id: int, repo: str, number: int) -> PrReviewPull | None:
    return await PrReviewPull.get_or_none(connection_id=connection_id, repo=repo, number=number)


async def pull_for(
    team_id: int, connection_id: int, repo: str, number: int, *, title: str, author: str | None, url: str
) -> PrReviewPull:
    """The pull request's row, created on its first review; its title, author and URL kept current."""
    found = await find_pull(connection_id, repo, number)
    if found is None:
        try:
            return await PrReviewPull.create(
                team_id=team_id,
                connection_id=connection_id,
                repo=repo,
                number=number,
                title=title,
                author=author,
                url=url,
            )
        except IntegrityError:  # created by a concurrent first run
            found = await find_pull(connection_id, repo, number)
            assert found is not None
    if (found.title, found.author, found.url) != (title, author, url):
        found.title, found.author, found.url = title, author, url
        await found.save(update_fields=["title", "author", "url", "updated_at"])
    return found


async def lease(pull_id: int, holder: str, seconds: float) -> bool:
    """Take the pull request for one run (or extend the holder's lease); False while another run holds it."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "UPDATE pr_review_pulls SET locked_by = $2, locked_until = now() + make_interval(secs => $3) "
        "WHERE id = $1 AND (locked_until IS NULL OR locked_until < now() OR locked_by = $2) RETURNING id",
        [pull_id, holder, float(seconds)],
    )
    return bool(rows)


async def release(pull_id: int, holder: str) -> None:
    await PrReviewPull.filter(id=pull_id, locked_by=holder).update(locked_by=None, locked_until=None)


async def record_reviewed(
    pull: PrReviewPull, *, head_sha: str, summary_comment_id: str | None, approval_state: str
) -> None:
    pull.last_reviewed_sha = head_sha
    pull.summary_comment_id = summary_comment_id
    pull.approval_state = approval_state
    await pull.save(update_fields=["last_reviewed_sha", "summary_comment_id", "approval_state", "updated_at"])


# --- runs -------------------------------------------------------------------------------------------------------


async def posted_run_of(pull_id: int, head_sha: str) -> PrReview | None:
    """The run that already reviewed and posted this head, if any: a repeated job does nothing twice."""
    return await PrReview.filter(pull_id=pull_id, head_sha=head_sha, posting=True, status="COMPLETED").first()


async def start_run(pull: PrReviewPull, *, head_sha: str, trigger: str, posting: bool, job_id: int | None) -> PrReview:
    return await PrReview.create(
        team_id=pull.team_id, pull_id=pull.id, head_sha=head_sha, trigger=trigger, posting=posting, job_id=job_id
    )


async def finish_run(run: PrReview, status: str, **values: Any) -> PrReview:
    now = datetime.now(UTC)
    run.status = status
    run.finished_at = now
    run.duration_ms = max(0, int((now - run.started_at).total_seconds() * 1000))
    for name, value in values.items():
        setattr(run, name, value)
    await run.save()
    return run


async def recent_runs(pull_id: int, limit: int = 10) -> list[PrReview]:
    return await PrReview.filter(pull_id=pull_id, posting=True).exclude(status="RUNNING").order_by("-id").limit(limit)


async def team_runs(
    team_id: int, *, limit: int, before_id: int | None = None, repo: str | None = None
) -> tuple[list[PrReview], int | None]:
    """A page of the team's runs, newest first, with the `before_id` of the next page (None on the last)."""
    query = PrReview.filter(team_id=team_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    if repo is not None:
        query = query.filter(pull__repo=repo)
    rows = await query.order_by("-id").limit(limit + 1).prefetch_related("pull", "pull__connection")
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


async def team_run(team_id: int, run_id: int) -> PrReview | None:
    return await PrReview.filter(id=run_id, team_id=team_id).prefetch_related("pull", "pull__connection").first()


# --- comments ---------------------------------------------------------------------------------------------------


async def pull_comments(pull_id: int) -> list[PrReviewComment]:
    return await PrReviewComment.filter(pull_id=pull_id).order_by("id")


async def run_comments(run_id: int) -> list[PrReviewComment]:
    return await PrReviewComment.filter(review_id=run_id).order_by("id")


async def claim_comment(pull: PrReviewPull, run: PrReview, values: dict[str, Any]) -> PrReviewComment | None:
    """Reserve the finding's fingerprint on this pull request before posting it; None when it is taken. A
    PENDING row left by a run that died before it could record the outcome is handed over (the caller checks
    the platform for the comment first)."""
    try:
        return await PrReviewComment.create(team_id=pull.team_id, pull_id=pull.id, review_id=run.id, **values)
    except IntegrityError:
        left = await PrReviewComment.get_or_none(pull_id=pull.id, fingerprint=values["fingerprint"], state="PENDING")
        if left is None:
            return None
        left.review_id = run.id
        await left.save(update_fields=["review_id", "updated_at"])
        return left


async def update_comment(comment: PrReviewComment, **values: Any) -> None:
    for name, value in values.items():
        setattr(comment, name, value)
    await comment.save(update_fields=[*values, "updated_at"])


# --- permissions ------------------------------------------------------------------------------------------------


async def connection_settings(connection_id: int) -> ReviewConnectionSettings | None:
    return await ReviewConnectionSettings.get_or_none(connection_id=connection_id)


async def set_connection_settings(
    team_id: int,
    connection_id: int,
    *,
    may_approve: bool,
    may_request_changes: bool,
    user_id: int | None,
    commands_from: str | None = None,
) -> ReviewConnectionSettings:
    values: dict[str, Any] = {
        "may_approve": may_approve,
        "may_request_changes": may_request_changes,
        "updated_by_id": user_id,
        "team_id": team_id,
    }
    if commands_from is not None:
        values["commands_from"] = commands_from
    row, _ = await ReviewConnectionSettings.update_or_create(defaults=values, connection_id=connection_id)
    return row


async def find_posted(pull_id: int, prefix: str) -> list[PrReviewComment]:
    """The pull request's open comments whose fingerprint starts with `prefix` (as a command names one)."""
    return await PrReviewComment.filter(pull_id=pull_id, state="POSTED", fingerprint__startswith=prefix)
