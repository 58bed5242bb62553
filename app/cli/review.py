"""`adjutant review --diff FILE`: review a local unified diff with the configured model and print the findings,
what was dropped and why, and the summary. No server tools: the reviewers see only the diff.

`adjutant review REPO NUMBER --connection NAME [--team T] [--post]`: review a pull request through one of the
team's connections, exactly as a webhook would (incremental after an earlier posted review, the repository's
rules from its target branch), and print the comments, labels, approval and summary it would post; `--post`
posts them and records the review.

`adjutant review digest REPO` and `adjutant review report REPO` print the stale pull-request digest and the
review report of a repository now (`app.cli.review_notify`); `--post` also posts them to its Slack channel.

`adjutant review precision REPO [--team T]` prints the repository's review precision per category and which
categories feedback demoted (`app.cli.review_precision`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from app.cli.common import ConfigOption, DataDirOption, console, fail, out, run_async, settings_from_cli, user_errors
from app.cli.review_notify import NOTIFY_COMMANDS, run_notify_command
from app.cli.review_pr import review_pull_request, show_pull_request_review
from app.cli.review_precision import run_precision_command
from app.errors import LLMError, ReviewRulesInvalid
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry, no_model_hint
from app.llm.router import LLMRouter
from app.review.conversation import ReviewContext, ReviewModel
from app.review.diff import parse_unified_diff
from app.review.engine import ReviewResult, review_diff
from app.review.reviewers import reviewers_for
from app.review.rules import load_rules
from app.runtime.settings import Settings

MAX_DIFF_BYTES = 20_000_000


def review(
    repo: Annotated[str | None, typer.Argument(help="Repository of a pull request (owner/name).")] = None,
    pr_number: Annotated[
        str | None, typer.Argument(help="Pull request number (after digest or report: the repository).")
    ] = None,
    diff: Annotated[
        Path | None,
        typer.Option("--diff", help="A unified diff (git diff output) to review.", exists=True, dir_okay=False),
    ] = None,
    repo_rules: Annotated[
        Path | None,
        typer.Option("--repo-rules", help="An .adjutant.toml whose [review] rules apply.", exists=True, dir_okay=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    connection: Annotated[
        str | None, typer.Option("--connection", help="The team's GitHub, GitLab or Bitbucket connection (name or id).")
    ] = None,
    team: Annotated[str, typer.Option("--team", help="The team that owns the connection.")] = "default",
    post: Annotated[bool, typer.Option("--post", help="Post the comments, summary, labels and approval.")] = False,
    days: Annotated[int, typer.Option("--days", help="report: the window in days.", min=1, max=90)] = 7,
    channel: Annotated[
        str | None, typer.Option("--channel", help="digest/report: Slack channel (default: [review.notify]).")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Review a local diff (--diff FILE) or a pull request (REPO PR_NUMBER --connection NAME); or print (and
    with --post, post) a repository's stale digest or review report (digest|report REPO --connection NAME)."""
    if diff is None and repo == "precision":
        if not pr_number:
            raise fail("give the repository: adjutant review precision owner/name --team T")
        run_precision_command(settings_from_cli(data_dir, config), pr_number, team=team, as_json=as_json)
        return
    if diff is None and repo in NOTIFY_COMMANDS:
        if not pr_number:
            raise fail(f"give the repository: adjutant review {repo} owner/name --connection NAME")
        settings = settings_from_cli(data_dir, config)
        run_notify_command(
            settings,
            repo,
            pr_number,
            connection=connection,
            team=team,
            post=post,
            as_json=as_json,
            days=days,
            channel=channel,
        )
        return
    if diff is None:
        if repo is None or pr_number is None:
            raise fail("give --diff FILE, or a repository and a pull request number")
        if not connection:
            raise fail("reviewing a pull request needs --connection NAME (see adjutant integrations list)")
        if not pr_number.isdigit() or int(pr_number) < 1:
            raise fail("the pull request number must be positive")
        number = int(pr_number)
        outcome = review_pull_request(settings_from_cli(data_dir, config), repo, number, connection, team, post)
        show_pull_request_review(outcome, as_json=as_json, posted=post)
        return
    with user_errors():  # the input first: a bad diff or rules file is refused before anything starts
        if diff.stat().st_size > MAX_DIFF_BYTES:
            raise fail(f"{diff} is larger than {MAX_DIFF_BYTES // 1_000_000} MB")
        files = parse_unified_diff(diff.read_text(encoding="utf-8", errors="replace"))
        rules_text = repo_rules.read_text(encoding="utf-8") if repo_rules else None
    if not files:
        raise fail(f"{diff} holds no file changes (expected unified diff output, as from git diff)")
    try:
        rules = load_rules(rules_text)
    except ReviewRulesInvalid as exc:
        raise fail(str(exc.detail)) from None
    settings = settings_from_cli(data_dir, config)
    registry = ModelRegistry(settings.llm, settings.providers)
    try:
        name = registry.get(settings.review.model).name if settings.review.model else registry.default().name
    except LLMError as exc:
        raise fail(f"no usable model for review: {exc.message} ({no_model_hint(settings.providers)})") from None
    result = run_async(lambda: _review(settings, registry, name, files, rules))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _show(result)


async def _review(settings: Settings, registry: ModelRegistry, name: str, files, rules) -> ReviewResult:
    pool = ProviderPool(settings.providers, settings.llm.router)
    router = LLMRouter(registry, pool, settings.llm.router)
    model = ReviewModel(
        router, name, timeout_s=settings.review.model_timeout_s, max_output_tokens=settings.review.max_output_tokens
    )
    try:
        with console.status(f"Reviewing {len(files)} file(s) with {name}…"):
            return await review_diff(
                files,
                ReviewContext(rules=rules),
                model=model,
                reviewers=reviewers_for(rules),
                settings=settings,
                run_tool=None,
            )
    finally:
        await pool.aclose()


def _show(result: ReviewResult) -> None:
    out.print(f"[bold]Findings ({len(result.findings)})[/]")
    for finding in result.findings:
        where = f"{finding.path}:{finding.line}" + (f"-{finding.end_line}" if finding.end_line != finding.line else "")
        out.print(
            f"  [bold]{finding.severity}[/] {escape(where)}  {escape(finding.title)} "
            f"[dim]({escape(finding.category)}, {finding.confidence:.2f}, {escape(finding.reviewer)})[/]"
        )
        out.print("    " + escape(finding.explanation).replace("\n", "\n    "))
        if finding.suggestion:
            out.print("    [dim]suggested:[/]\n      " + escape(finding.suggestion).replace("\n", "\n      "))
    if result.dropped:
        out.print(f"\n[bold]Dropped ({len(result.dropped)})[/]")
        for finding, reason in result.dropped:
            out.print(f"  {escape(finding.path)}:{finding.line}  {escape(finding.title)} [dim]— {escape(reason)}[/]")
    if result.rejected:
        out.print(f"\n[bold]Unusable report entries ({len(result.rejected)})[/]")
        for _, reason in result.rejected:
            out.print(f"  [dim]{escape(reason)}[/]")
    out.print("\n[bold]Summary[/]")
    out.print(result.summary_markdown, markup=False)
