"""The stale pull-request digest of one repository: its open pull requests (read from the platform, every
page) with no activity for `stale_after_days`, each with its age, author, and our review's state — the last
verdict and how many of our comments are still open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from app.db.repositories import review_reports as store
from app.integrations.types import PullRequest
from app.review.notify.mrkdwn import context, escape, link, section
from app.review.notify.slack_post import SlackMessage

SCAN = 500  # open pull requests read per digest, newest first
SHOWN = 30  # listed in the Slack message; the rest are counted


class StalePull(BaseModel):
    number: int
    title: str
    url: str
    author: str | None
    draft: bool
    age_days: int = Field(description="Days since it was opened.")
    idle_days: int = Field(description="Days since its last activity.")
    review_state: str = Field(description="approved, changes requested, reviewed, review failed, or not reviewed.")
    unresolved_findings: int = Field(description="Our comments on it still open.")


class StaleDigest(BaseModel):
    repository: str
    stale_after_days: int
    open_pull_requests: int
    stale: list[StalePull]


async def build_digest(
    team_id: int,
    connection_id: int,
    client: Any,
    repository: str,
    *,
    stale_after_days: int,
    now: datetime | None = None,
) -> StaleDigest:
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=stale_after_days)
    # "open" lists drafts too (as state "draft"): a draft nobody touches is as stale as any other.
    found: list[PullRequest] = await client.list_pull_requests(repository, state="open", limit=SCAN)
    idle = [pr for pr in found if _last_activity(pr) is not None and _last_activity(pr) <= cutoff]  # type: ignore[operator]
    pulls = {p.number: p for p in await store.repository_pulls(team_id, repository, connection_id=connection_id)}
    ours = [pulls[pr.number].id for pr in idle if pr.number in pulls]
    last = await store.last_runs(ours)
    unresolved: dict[int, int] = {}
    for comment in await store.open_comments(ours):
        unresolved[comment.pull_id] = unresolved.get(comment.pull_id, 0) + 1  # type: ignore[attr-defined]
    stale = []
    for pr in sorted(idle, key=lambda p: _last_activity(p) or now):
        row = pulls.get(pr.number)
        activity = _last_activity(pr) or now
        stale.append(
            StalePull(
                number=pr.number,
                title=pr.title,
                url=pr.url,
                author=pr.author,
                draft=pr.state == "draft",
                age_days=(now - (pr.created_at or activity)).days,
                idle_days=(now - activity).days,
                review_state=_state(row, last.get(row.id) if row else None),
                unresolved_findings=unresolved.get(row.id, 0) if row else 0,
            )
        )
    return StaleDigest(
        repository=repository, stale_after_days=stale_after_days, open_pull_requests=len(found), stale=stale
    )


def _last_activity(pr: PullRequest) -> datetime | None:
    when = pr.updated_at or pr.created_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _state(row: Any, run: Any) -> str:
    if row is None or run is None:
        return "not reviewed"
    if row.approval_state == "APPROVED":
        return "approved"
    if row.approval_state == "CHANGES_REQUESTED":
        return "changes requested"
    return "review failed" if run.status == "FAILED" else "reviewed"


def digest_marker(key: str) -> str:
    return f"(Adjutant digest #{key})"


def digest_message(digest: StaleDigest, *, mark: str) -> SlackMessage:
    count = len(digest.stale)
    head = (
        f"*{count} stale pull request(s) in {escape(digest.repository)}* "
        f"(no activity for {digest.stale_after_days}+ days, of {digest.open_pull_requests} open)"
    )
    lines = []
    for pr in digest.stale[:SHOWN]:
        findings = f", {pr.unresolved_findings} open finding(s)" if pr.unresolved_findings else ""
        draft = " (draft)" if pr.draft else ""
        lines.append(
            f"• {link(pr.url, f'#{pr.number} {pr.title}')}{draft} by {escape(pr.author or 'unknown')}: "
            f"opened {pr.age_days}d ago, idle {pr.idle_days}d, {escape(pr.review_state)}{findings}"
        )
    if count > SHOWN:
        lines.append(f"…and {count - SHOWN} more")
    blocks = [section(head)]
    if lines:
        blocks.append(section("\n".join(lines)))
    blocks.append(context(mark))
    text = f"{count} stale pull request(s) in {escape(digest.repository)} {mark}"
    return SlackMessage(text=text, blocks=blocks, marker=mark)
