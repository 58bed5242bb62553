"""The Slack notice of one finished pull-request review: the pull request (title and link), the verdict, the
comments this run posted by severity, and a link to the summary comment. Built from the review's records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from app.db.models import PrReview, PrReviewComment, PrReviewPull
from app.review.findings import SEVERITIES
from app.review.notify.mrkdwn import context, escape, link, section
from app.review.notify.slack_post import SlackMessage

POSTED_STATES = ("POSTED", "OUTDATED", "RESOLVED", "IGNORED")  # reached the pull request, whatever came after


def marker(review_id: int) -> str:
    return f"(Adjutant review #{review_id})"


def posted_comments(comments: Sequence[PrReviewComment]) -> list[PrReviewComment]:
    return [c for c in comments if c.state in POSTED_STATES]


def verdict(run: PrReview, new_comments: int) -> str:
    """One phrase: what the review decided about the pull request."""
    if run.approval and run.approval_done:
        return "Approved" if run.approval == "APPROVE" else "Changes requested"
    if run.approval == "REQUEST_CHANGES":
        return "Changes needed (not requested: " + (run.approval_refused or "given earlier") + ")"
    if run.approval == "APPROVE":
        return "No blocking findings"
    return f"{new_comments} new finding(s)" if new_comments else "No new findings"


def by_severity(comments: Sequence[PrReviewComment]) -> list[tuple[str, int]]:
    counts = Counter(c.severity for c in comments)
    return [(s, counts[s]) for s in SEVERITIES if counts[s]]


def notice_message(
    run: PrReview, pull: PrReviewPull, comments: Sequence[PrReviewComment], summary_url: str | None
) -> SlackMessage:
    posted = posted_comments(comments)
    said = verdict(run, len(posted))
    severities = by_severity(posted)
    counts = ", ".join(f"{n} {s}" for s, n in severities) or "none"
    where = f"{pull.repo}#{pull.number}"
    title = link(pull.url, f"{where} {pull.title}")
    mark = marker(run.id)
    blocks = [
        section(f"*Review finished:* {title}"),
        section(f"*Verdict:* {escape(said)}\n*New comments by severity:* {escape(counts)}"),
    ]
    if posted:
        lines = [f"• `{escape(c.severity)}` {link(c.url, c.title)} — {escape(c.path)}:{c.line}" for c in posted[:10]]
        more = len(posted) - 10
        blocks.append(section("\n".join(lines) + (f"\n…and {more} more" if more > 0 else "")))
    footer = [
        f"by {escape(pull.author)}" if pull.author else "",
        link(summary_url, "summary comment") if summary_url else "",
    ]
    if run.incremental and run.base_sha:
        footer.append(f"commits since {escape(run.base_sha[:12])}")
    blocks.append(context(" · ".join(part for part in footer if part) + f" {mark}"))
    text = f"Review of {escape(where)} {escape(pull.title)}: {escape(said)}; {escape(counts)} {mark}"
    return SlackMessage(text=text, blocks=blocks, marker=mark)
