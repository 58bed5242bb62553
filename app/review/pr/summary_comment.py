"""The one summary comment a pull request gets, rewritten on every run: what was reviewed (the whole pull
request or the commits since the last review), a walkthrough of its files, the findings still open, what was
decided about approval and why, and the history of runs. Bounded to stay under every platform's size limit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from app.review.diff import FileDiff
from app.review.findings import SEVERITIES
from app.review.pr.bodies import SEVERITY_NAMES, marker

MAX_LISTED = 50
BODY_MAX = 60_000  # GitHub takes 65,536 characters; GitLab and Bitbucket more


@dataclass(frozen=True)
class OpenFinding:
    severity: str
    path: str
    line: int
    title: str
    url: str | None = None


@dataclass(frozen=True)
class PastRun:
    head_sha: str
    incremental: bool
    findings: int
    when: str


@dataclass(frozen=True)
class LinkedTicket:
    key: str
    title: str
    url: str | None = None
    criteria: int = 0  # acceptance criteria found on it


@dataclass
class SummaryView:
    platform: str
    head_sha: str
    base_sha: str | None  # set when only the commits since it were reviewed
    files: list[FileDiff]  # the pull request's whole diff
    reviewed: list[str]  # paths reviewed by this run
    omitted: list[tuple[str, str]]
    open_findings: list[OpenFinding]
    new_comments: int
    outdated: int
    dropped: int
    reviewers_failed: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    decision: str = ""
    history: list[PastRun] = field(default_factory=list)
    tickets: list[LinkedTicket] = field(default_factory=list)  # the tickets the reviewers were given
    ticket_notes: list[str] = field(default_factory=list)  # tickets named but not given, and why
    summary_only: list[OpenFinding] = field(default_factory=list)  # of categories demoted by feedback


def summary_body(view: SummaryView) -> str:
    lines = ["## Adjutant review", ""]
    scope = f"the commits since `{view.base_sha[:12]}`" if view.base_sha else "the whole pull request"
    lines.append(f"**Reviewed** `{view.head_sha[:12]}`: {scope}.")
    counts = [
        _plural(view.new_comments, "new comment"),
        _plural(view.outdated, "comment resolved or marked outdated", "comments resolved or marked outdated"),
        _plural(view.dropped, "finding dropped by validation", "findings dropped by validation"),
    ]
    lines += [f"This run: {', '.join(counts)}.", ""]
    lines += _tickets(view)
    lines += _walkthrough(view)
    lines += _findings(view)
    lines += _summary_only(view)
    if view.labels:
        lines += [f"**Labels added:** {', '.join(f'`{label}`' for label in view.labels)}", ""]
    if view.decision:
        lines += ["### Approval", "", view.decision, ""]
    if view.reviewers_failed:
        lines += [f"Reviewers that could not finish: {', '.join(view.reviewers_failed)}.", ""]
    if view.history:
        lines += ["<details><summary>Earlier runs</summary>", ""]
        for run in view.history[:10]:
            kind = "incremental" if run.incremental else "whole pull request"
            lines.append(f"- `{run.head_sha[:12]}` ({kind}): {_plural(run.findings, 'finding')}, {run.when}")
        lines += ["", "</details>", ""]
    lines.append(marker("adjutant:summary", view.platform))
    body = "\n".join(lines) + "\n"
    if len(body) > BODY_MAX:
        body = body[: BODY_MAX - 200] + "\n\n… (cut to fit)\n\n" + marker("adjutant:summary", view.platform) + "\n"
    return body


def _walkthrough(view: SummaryView) -> list[str]:
    reviewed = set(view.reviewed)
    skipped = dict(view.omitted)
    lines = ["### Walkthrough", "", "| File | Change | Lines | Reviewed |", "|---|---|---|---|"]
    for diff in view.files[:MAX_LISTED]:
        if diff.path in reviewed:
            state = "this run"
        elif diff.path in skipped:
            state = f"not reviewed: {skipped[diff.path]}"
        elif view.base_sha:
            state = "unchanged since the last review"
        else:
            state = "not reviewed"
        lines.append(f"| `{diff.path}` | {diff.status} | +{diff.additions} −{diff.deletions} | {state} |")
    if len(view.files) > MAX_LISTED:
        lines.append(f"| … {len(view.files) - MAX_LISTED} more files | | | |")
    return [*lines, ""]


def _findings(view: SummaryView) -> list[str]:
    lines = ["### Open findings", ""]
    if not view.open_findings:
        return [*lines, "None: nothing in this pull request needs attention now.", ""]
    counted = Counter(f.severity for f in view.open_findings)
    lines += ["| Severity | Findings |", "|---|---|"]
    lines += [f"| {SEVERITY_NAMES[s]} | {counted[s]} |" for s in SEVERITIES if counted.get(s)]
    lines.append("")
    ranked = sorted(view.open_findings, key=lambda f: (SEVERITIES.index(f.severity), f.path, f.line))  # type: ignore[arg-type]
    for finding in ranked[:MAX_LISTED]:
        place = f"`{finding.path}:{finding.line}`"
        place = f"[{place}]({finding.url})" if finding.url else place
        lines.append(f"- **{SEVERITY_NAMES[finding.severity]}** {place} {finding.title}")
    if len(ranked) > MAX_LISTED:
        lines.append(f"- … and {len(ranked) - MAX_LISTED} more")
    return [*lines, ""]


def _summary_only(view: SummaryView) -> list[str]:
    """Findings of categories whose comments people found unhelpful: shown here, not posted on their lines."""
    if not view.summary_only:
        return []
    note = "Their categories were often not useful here, so they are not posted inline."
    lines = ["### Listed here only", "", note, ""]
    for finding in view.summary_only[:MAX_LISTED]:
        lines.append(f"- **{SEVERITY_NAMES[finding.severity]}** `{finding.path}:{finding.line}` {finding.title}")
    return [*lines, ""]


def _tickets(view: SummaryView) -> list[str]:
    if not view.tickets and not view.ticket_notes:
        return []
    lines = ["### Linked tickets", ""]
    for ticket in view.tickets:
        name = f"[{ticket.key}]({ticket.url})" if ticket.url else f"`{ticket.key}`"
        counted = _plural(ticket.criteria, "acceptance criterion", "acceptance criteria")
        criteria = f" ({counted})" if ticket.criteria else ""
        lines.append(f"- {name} {ticket.title}{criteria}")
    lines += [f"- {note}: reviewed without it" for note in view.ticket_notes]
    return [*lines, ""]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"
