"""`adjutant feedback run|runs|clusters|tickets|approve|reject|add`: the team's developer feedback from the
command line (docs/feedback.md). Like the API, each command sees one team (`--team`): another team's ticket
is "not found". `run` reads the sources and clusters in this process, without a worker."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from app.cli.common import ConfigOption, DataDirOption, fail, out, settings_from_cli
from app.cli.team_data import on_database, print_rows, team_id_named
from app.feedback.job import FeedbackJobs, ensure_weekly
from app.feedback.runs import run_summary
from app.feedback.service import FeedbackInput, FeedbackService, run_view
from app.runtime.settings import Settings
from app.wire_errors import validation_details

T = TypeVar("T")
feedback_app = typer.Typer(help="Developer feedback to documentation tickets.", no_args_is_help=True)
TeamOption = Annotated[str, typer.Option(help="The team whose feedback this is.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LimitOption = Annotated[int, typer.Option(min=1, max=100, help="How many, newest (or largest) first.")]


def _jobs(settings: Settings) -> FeedbackJobs:
    # The CLI opens only the database: rate-limit pauses stay in this process for the command's calls.
    return FeedbackJobs(settings, redis=None)


def _service(settings: Settings) -> FeedbackService:
    return FeedbackService(settings.feedback, _jobs(settings).desk())


@feedback_app.command("run")
def run(
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Read the team's sources now, cluster, and draft or update tickets; prints what the run did."""
    settings = settings_from_cli(data_dir, config)

    async def action() -> dict[str, Any]:
        team_id = await team_id_named(team)
        await ensure_weekly(team_id, settings.feedback.default_cron)
        record = await _jobs(settings).runner().run(team_id, trigger="cli")
        return run_view(record) | run_summary(record)

    found = on_database(settings, action)
    if as_json:
        print(json.dumps(found, indent=2, default=str))
        return
    out.print(
        f"run {found['id']}: {found['messages_read']} new messages, {found['candidates']} candidates, "
        f"{found['clusters']} clusters ({found['significant']} significant), {found['tickets_created']} tickets "
        f"created, {found['tickets_updated']} updated, ${found['cost_usd']}"
    )
    for error in found["errors"]:
        out.print(f"  {error.get('source')}: {error.get('error')}", markup=False)


@feedback_app.command("runs")
def runs(
    team: TeamOption = "default",
    limit: LimitOption = 20,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The team's runs, newest first."""
    settings = settings_from_cli(data_dir, config)

    async def action() -> list[dict[str, Any]]:
        return await _service(settings).runs(await team_id_named(team), limit)

    columns = ("id", "trigger", "status", "messages_read", "clusters", "tickets_created", "tickets_updated")
    print_rows(on_database(settings, action), (*columns, "cost_usd", "started_at"), as_json)


@feedback_app.command("clusters")
def clusters(
    team: TeamOption = "default",
    significant: Annotated[bool, typer.Option(help="Only significant clusters.")] = False,
    limit: LimitOption = 20,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Clusters with their evidence, largest first (the evidence with --json)."""
    settings = settings_from_cli(data_dir, config)

    async def action() -> list[dict[str, Any]]:
        return await _service(settings).clusters(await team_id_named(team), significant_only=significant, limit=limit)

    print_rows(
        on_database(settings, action),
        ("id", "size", "people", "significant", "ticket_id", "last_seen", "title"),
        as_json,
    )


@feedback_app.command("tickets")
def tickets(
    team: TeamOption = "default",
    status: Annotated[str | None, typer.Option(help="draft, open, resolved, reopened or rejected.")] = None,
    limit: LimitOption = 20,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Documentation tickets with their status, newest first."""
    if status is not None and status not in ("draft", "open", "resolved", "reopened", "rejected"):
        raise fail("--status must be draft, open, resolved, reopened or rejected")
    settings = settings_from_cli(data_dir, config)

    async def action() -> list[dict[str, Any]]:
        return await _service(settings).tickets(await team_id_named(team), status=status, limit=limit)

    print_rows(
        on_database(settings, action),
        ("id", "status", "evidence_count", "tracker", "external_id", "title"),
        as_json,
    )


@feedback_app.command("approve")
def approve(
    ticket_id: Annotated[int, typer.Argument(help="The draft's id.")],
    connection: Annotated[
        str | None, typer.Option(help="Jira or Linear connection to open it in; default: the team's first.")
    ] = None,
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Approve a draft: create its Jira or Linear issue."""
    settings = settings_from_cli(data_dir, config)

    async def action() -> dict[str, Any]:
        return await _service(settings).approve(await team_id_named(team), ticket_id, None, connection)

    found = on_database(settings, action)
    print_rows([found], ("id", "status", "tracker", "external_id", "external_url"), as_json)


@feedback_app.command("reject")
def reject(
    ticket_id: Annotated[int, typer.Argument(help="The draft's id.")],
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject a draft: it is kept, so its topic is not drafted again, and never sent to a tracker."""
    settings = settings_from_cli(data_dir, config)

    async def action() -> dict[str, Any]:
        return await _service(settings).reject(await team_id_named(team), ticket_id)

    print_rows([on_database(settings, action)], ("id", "status", "title"), as_json)


@feedback_app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="What was said.")],
    author: Annotated[str | None, typer.Option(help="Who said it (a display name or handle).")] = None,
    url: Annotated[str | None, typer.Option(help="Where it was said.")] = None,
    external_id: Annotated[str | None, typer.Option(help="Your id for it: adding it again stores nothing.")] = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Add feedback from anywhere else; the next run reads it."""
    try:
        data = FeedbackInput(text=text, author=author, source_url=url, external_id=external_id)
    except ValidationError as exc:
        raise fail(validation_details(exc)[0]["message"]) from None
    settings = settings_from_cli(data_dir, config)

    async def action() -> dict[str, Any]:
        return await _service(settings).submit(await team_id_named(team), data)

    found = on_database(settings, action)
    out.print(f"stored as message {found['message_id']}" if found["stored"] else "already stored; nothing changed")
