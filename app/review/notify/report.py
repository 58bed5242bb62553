"""The review report of one repository over the last days: reviews run, pull requests reviewed, comments
posted by severity and category, comments resolved and ignored, approvals and requests for changes, and the
files most commented on — from the review records and the audit trail.

Per-category precision is the review's own measure (`app.review.precision`): developers' feedback on our
comments over all time, smoothed, as the review uses it to demote a category; categories without feedback are
left out. `PrecisionSource` lets a caller measure it otherwise."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from app.db.repositories import review_feedback
from app.db.repositories import review_reports as store
from app.review.findings import SEVERITIES
from app.review.notify.mrkdwn import context, escape, section
from app.review.notify.notice import POSTED_STATES
from app.review.notify.slack_post import SlackMessage
from app.review.precision import precision_of

MAX_DAYS = 90
TOP_FILES = 10
ACTIONS = ("comment.resolved", "comment.ignored", "approval.approved", "approval.changes_requested")
# Given the team, repository and window, each category's precision (0-1); see the module's docstring.
PrecisionSource = Callable[[int, str, datetime], Awaitable[dict[str, float]]]


async def feedback_precision(team_id: int, repository: str, since: datetime) -> dict[str, float]:
    """Each category's precision from the feedback recorded on the repository's comments."""
    del since  # the review's measure is over all recorded feedback, not one window
    tallies = await review_feedback.tallies(team_id, repository)
    return {category: precision_of(t) for category, t in tallies.items() if t.useful + t.not_useful}


class FileCount(BaseModel):
    path: str
    comments: int


class ReviewReport(BaseModel):
    repository: str
    days: int
    since: str = Field(description="Start of the window (ISO 8601, UTC).")
    until: str
    reviews_run: int = Field(description="Posting review runs that completed.")
    reviews_failed: int
    pull_requests_reviewed: int
    comments_posted: int
    comments_by_severity: dict[str, int]
    comments_by_category: dict[str, int]
    comments_resolved: int = Field(description="Resolved or marked outdated after the lines changed.")
    comments_ignored: int = Field(description="Dismissed with /adjutant ignore.")
    approvals: int
    changes_requested: int
    top_files: list[FileCount]
    precision: dict[str, float] = Field(
        default_factory=dict,
        description="Per category with developer feedback on our comments: useful / all votes, smoothed (0-1).",
    )


async def build_report(
    team_id: int,
    repository: str,
    *,
    days: int = 7,
    now: datetime | None = None,
    precision: PrecisionSource | None = feedback_precision,
) -> ReviewReport:
    until = now or datetime.now(UTC)
    since = until - timedelta(days=days)
    pulls = await store.repository_pulls(team_id, repository)
    pull_ids = [p.id for p in pulls]
    runs = await store.runs_since(pull_ids, since)
    comments = [c for c in await store.comments_since(pull_ids, since) if c.state in POSTED_STATES]
    every_run = await store.run_ids(pull_ids)
    urls = {p.url for p in pulls if p.url}
    fingerprints = {c.fingerprint for c in comments} | {c.fingerprint for c in await store.open_comments(pull_ids)}
    actions: Counter[str] = Counter()
    for event in await store.events_since(team_id, since, ACTIONS):
        details = _details(event.get("details"))
        ours = details.get("review_id") in every_run or (
            details.get("fingerprint") in fingerprints and event.get("target") in urls
        )
        if ours:
            actions[str(event["action"])] += 1
    completed = [r for r in runs if r.status == "COMPLETED"]
    severities = Counter(c.severity for c in comments)
    files = Counter(c.path for c in comments)
    return ReviewReport(
        repository=repository,
        days=days,
        since=since.isoformat(),
        until=until.isoformat(),
        reviews_run=len(completed),
        reviews_failed=sum(r.status == "FAILED" for r in runs),
        pull_requests_reviewed=len({r.pull_id for r in completed}),  # type: ignore[attr-defined]
        comments_posted=len(comments),
        comments_by_severity={s: severities[s] for s in SEVERITIES if severities[s]},
        comments_by_category=dict(Counter(c.category for c in comments).most_common()),
        comments_resolved=actions["comment.resolved"],
        comments_ignored=actions["comment.ignored"],
        approvals=actions["approval.approved"],
        changes_requested=actions["approval.changes_requested"],
        top_files=[FileCount(path=p, comments=n) for p, n in files.most_common(TOP_FILES)],
        precision=await precision(team_id, repository, since) if precision else {},
    )


def _details(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def report_marker(job_id: int) -> str:
    return f"(Adjutant report #{job_id})"


def report_message(report: ReviewReport, *, mark: str) -> SlackMessage:
    severities = ", ".join(f"{n} {s}" for s, n in report.comments_by_severity.items()) or "none"
    categories = ", ".join(f"{n} {c}" for c, n in list(report.comments_by_category.items())[:8]) or "none"
    head = f"*Review report for {escape(report.repository)}*, last {report.days} days"
    facts = (
        f"{report.reviews_run} reviews of {report.pull_requests_reviewed} pull requests"
        f" ({report.reviews_failed} failed)\n"
        f"{report.comments_posted} comments: {escape(severities)}\nby category: {escape(categories)}\n"
        f"{report.comments_resolved} resolved, {report.comments_ignored} ignored · "
        f"{report.approvals} approvals, {report.changes_requested} requests for changes"
    )
    blocks = [section(head), section(facts)]
    if report.top_files:
        blocks.append(
            section(
                "*Most commented files*\n" + "\n".join(f"• {escape(f.path)}: {f.comments}" for f in report.top_files)
            )
        )
    if report.precision:
        shown = ", ".join(f"{escape(c)} {p:.0%}" for c, p in sorted(report.precision.items()))
        blocks.append(section(f"*Precision by category:* {shown}"))
    blocks.append(context(mark))
    text = (
        f"Review report for {escape(report.repository)}: {report.reviews_run} reviews, "
        f"{report.comments_posted} comments {mark}"
    )
    return SlackMessage(text=text, blocks=blocks, marker=mark)
