"""`adjutant review REPO NUMBER --connection NAME [--team T] [--post]`: one pull-request review from the
command line, on the same flow as a webhook's, and what it would post (or posted) printed."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from app.cli.admin import run_on_database
from app.cli.common import fail, out
from app.db.repositories.identity import team_named
from app.errors import AdjutantError, ConnectionNotFound, LLMError
from app.review.pr.flow import PullRequestReview, ReviewBusy, ReviewOutcome, ReviewRequest
from app.review.pr.platforms import Posted
from app.review.pr.service import review_kit
from app.runtime.settings import Settings


def review_pull_request(
    settings: Settings, repo: str, number: int, connection: str, team: str, post: bool
) -> ReviewOutcome:
    async def run() -> ReviewOutcome:
        owner = await team_named(team)
        if owner is None:
            raise ConnectionNotFound(f"there is no team {team!r}")
        async with review_kit(settings, redis=None) as kit:
            info = await kit.connections.connection(owner.id, connection)
            request = ReviewRequest(
                team_id=owner.id, connection=info, repo=repo, number=number, head_sha=None, trigger="cli", posting=post
            )
            async with kit.platform(info) as platform:
                return await PullRequestReview(settings, kit.model, tickets=kit.tickets).run(request, platform)

    try:
        return run_on_database(settings, run)
    except ValueError as exc:  # not an SCM connection
        raise fail(str(exc)) from None
    except ReviewBusy as exc:
        raise fail(f"{exc}; try again when it is done", 1) from None
    except LLMError as exc:
        raise fail(f"no usable model for review: {exc.message}", 1) from None
    except AdjutantError as exc:
        raise fail(f"{exc.code}: {exc.detail}", 1) from None


def show_pull_request_review(outcome: ReviewOutcome, *, as_json: bool, posted: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_as_json(outcome), indent=2, ensure_ascii=False))
        return
    pr = outcome.pr
    where = f"{pr.repo}#{pr.number} at {(pr.head_sha or '')[:12]}" if pr else "the pull request"
    if outcome.status != "COMPLETED":
        out.print(f"{outcome.status.lower()}: {escape(where)}: {escape(outcome.reason or '')}")
        if outcome.status == "FAILED":
            raise typer.Exit(1)
        return
    scope = f"the commits since {outcome.base_sha[:12]}" if outcome.base_sha else "the whole pull request"
    verb = "Posted" if posted else "Would post"
    out.print(f"[bold]{escape(where)}[/]: reviewed {escape(scope)}")
    out.print(f"\n[bold]{verb} {len(outcome.drafts)} comment(s)[/]")
    results = dict((id(draft), result) for draft, result in outcome.posted)
    for draft in outcome.drafts:
        anchor = draft.anchor
        lines = f"{anchor.line}-{anchor.end_line}" if anchor.end_line != anchor.line else str(anchor.line)
        result = results.get(id(draft))
        note = (
            "" if result is None else f" [dim]({'posted' if isinstance(result, Posted) else 'refused: ' + result})[/]"
        )
        out.print(f"  [bold]{draft.finding.severity}[/] {escape(anchor.path)}:{lines}{note}")
        out.print("    " + escape(draft.body).replace("\n", "\n    "))
    if outcome.outdated:
        out.print(f"\n[bold]{'Marked' if posted else 'Would mark'} outdated ({len(outcome.outdated)})[/]")
        for comment in outcome.outdated:
            out.print(f"  {escape(comment.path)}:{comment.line}  {escape(comment.title)}")
    if outcome.dropped:
        out.print(f"\n[bold]Dropped ({len(outcome.dropped)})[/]")
        for finding, reason in outcome.dropped:
            out.print(f"  {escape(finding.path)}:{finding.line}  {escape(finding.title)} [dim]— {escape(reason)}[/]")
    if outcome.labels:
        out.print(f"\n[bold]Labels[/]: {escape(', '.join(outcome.labels))}")
    if outcome.approval:
        state = (
            "refused: " + outcome.approval_refused
            if outcome.approval_refused
            else ("done" if outcome.approval_done else "not needed again" if posted else "would be done")
        )
        out.print(f"\n[bold]Approval[/]: {outcome.approval} — {escape(state)}")
    out.print("\n[bold]Summary[/]")
    out.print(outcome.summary, markup=False)
    if outcome.summary_url:
        out.print(f"summary comment: {outcome.summary_url}", markup=False)


def _as_json(outcome: ReviewOutcome) -> dict[str, Any]:
    results = dict((id(draft), result) for draft, result in outcome.posted)
    return outcome.brief() | {
        "repo": outcome.pr.repo if outcome.pr else None,
        "number": outcome.pr.number if outcome.pr else None,
        "base_sha": outcome.base_sha,
        "comments": [
            {
                "path": d.anchor.path,
                "line": d.anchor.line,
                "end_line": d.anchor.end_line,
                "fingerprint": d.finding.fingerprint,
                "severity": d.finding.severity,
                "body": d.body,
                "posted": None if id(d) not in results else isinstance(results[id(d)], Posted),
            }
            for d in outcome.drafts
        ],
        "outdated": [{"path": c.path, "line": c.line, "title": c.title} for c in outcome.outdated],
        "dropped": [{"path": f.path, "line": f.line, "title": f.title, "reason": r} for f, r in outcome.dropped],
        "labels": outcome.labels,
        "approval": {"decision": outcome.approval, "done": outcome.approval_done, "refused": outcome.approval_refused},
        "summary": outcome.summary,
        "summary_url": outcome.summary_url,
    }
