"""`adjutant review digest REPO` and `adjutant review report REPO`: a repository's stale pull-request digest or
review report, computed now by the same code as the scheduled jobs and printed; `--post` also posts it to the
repository's Slack channel (`[review.notify] slack_channel`, or `--channel`)."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from app.cli.admin import run_on_database
from app.cli.common import fail, out
from app.db.repositories.identity import team_named
from app.errors import AdjutantError, JobFailedPermanently
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.review.notify.digest import StaleDigest, build_digest, digest_marker, digest_message
from app.review.notify.report import ReviewReport, build_report, report_marker, report_message
from app.review.notify.slack_post import Delivered, post_once, slack_connection
from app.review.notify.sources import open_repository
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings

NOTIFY_COMMANDS = ("digest", "report")


def run_notify_command(
    settings: Settings,
    command: str,
    repository: str,
    *,
    connection: str | None,
    team: str,
    post: bool,
    as_json: bool,
    days: int,
    channel: str | None,
) -> None:
    if not connection:
        raise fail(f"{command} needs --connection NAME (the repository's GitHub, GitLab or Bitbucket connection)")

    async def run() -> tuple[StaleDigest | ReviewReport, Delivered | None]:
        owner = await team_named(team)
        if owner is None:
            raise fail(f"there is no team {team!r}")
        runtime = IntegrationRuntime(settings.integrations, redis=None, key_prefix=settings.redis.key_prefix)
        connections = Connections(load_secret_box(settings), runtime)
        try:
            async with open_repository(connections, owner.id, connection, repository) as repo:
                rules = repo.rules
                found: StaleDigest | ReviewReport
                if command == "digest":
                    found = await build_digest(
                        owner.id, repo.connection.id, repo.client, repository, stale_after_days=rules.stale_after_days
                    )
                else:
                    found = await build_report(owner.id, repository, days=days)
            if not post:
                return found, None
            target = channel or rules.slack_channel
            if not target:
                raise fail("no Slack channel: give --channel, or set [review.notify] slack_channel")
            key = f"cli-{int(time.time())}"
            message = (
                digest_message(found, mark=digest_marker(key))
                if isinstance(found, StaleDigest)
                else report_message(found, mark=report_marker(key))  # type: ignore[arg-type]
            )
            slack = await slack_connection(connections, owner.id, rules.slack_connection)
            return found, await post_once(connections, slack, target, message, retried=False)
        finally:
            runtime.close()

    try:
        found, delivered = run_on_database(settings, run)
    except JobFailedPermanently as exc:
        raise fail(str(exc), 1) from None
    except AdjutantError as exc:
        raise fail(f"{exc.code}: {exc.detail}", 1) from None
    if as_json:
        data: dict[str, Any] = found.model_dump()
        if delivered is not None:
            data["posted"] = {"channel": delivered.channel, "ts": delivered.ts, "url": delivered.url}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for line in _digest_lines(found) if isinstance(found, StaleDigest) else _report_lines(found):
        out.print(line, markup=False, highlight=False)
    if delivered is not None:
        out.print(f"posted to {delivered.channel}: {delivered.url or delivered.ts}", markup=False)


def _digest_lines(digest: StaleDigest) -> list[str]:
    lines = [
        f"{len(digest.stale)} stale pull request(s) in {digest.repository} "
        f"(no activity for {digest.stale_after_days}+ days, of {digest.open_pull_requests} open)"
    ]
    for pr in digest.stale:
        findings = f", {pr.unresolved_findings} open finding(s)" if pr.unresolved_findings else ""
        lines.append(
            f"  #{pr.number} {pr.title} by {pr.author or 'unknown'}: opened {pr.age_days}d ago, "
            f"idle {pr.idle_days}d, {pr.review_state}{findings}  {pr.url}"
        )
    return lines


def _report_lines(report: ReviewReport) -> list[str]:
    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in values.items()) or "none"

    lines = [
        f"Review report for {report.repository}, last {report.days} days ({report.since[:10]} to {report.until[:10]})",
        f"  reviews run: {report.reviews_run} ({report.reviews_failed} failed), "
        f"pull requests reviewed: {report.pull_requests_reviewed}",
        f"  comments posted: {report.comments_posted} — {counts(report.comments_by_severity)}",
        f"  by category: {counts(report.comments_by_category)}",
        f"  resolved: {report.comments_resolved}, ignored: {report.comments_ignored}",
        f"  approvals: {report.approvals}, requests for changes: {report.changes_requested}",
    ]
    if report.top_files:
        lines.append("  most commented files: " + ", ".join(f"{f.path} ({f.comments})" for f in report.top_files))
    if report.precision:
        lines.append("  precision: " + ", ".join(f"{c} {p:.0%}" for c, p in sorted(report.precision.items())))
    return lines
