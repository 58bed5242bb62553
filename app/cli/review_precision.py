"""`adjutant review precision REPO [--team T] [--json]`: a repository's review precision per category, from the
feedback on the review's comments, and which categories are demoted and how."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.markup import escape

from app.cli.admin import run_on_database
from app.cli.common import fail, out
from app.db.repositories.identity import team_named
from app.review.precision import CategoryReport, precision_report
from app.runtime.settings import Settings


def run_precision_command(settings: Settings, repository: str, *, team: str, as_json: bool) -> None:
    async def run() -> list[CategoryReport]:
        owner = await team_named(team)
        if owner is None:
            raise fail(f"there is no team {team!r}")
        return await precision_report(owner.id, repository, settings.review)

    found = run_on_database(settings, run)
    if as_json:
        typer.echo(json.dumps({"repository": repository, "categories": [asdict(c) for c in found]}, indent=2))
        return
    if not found:
        out.print(escape(f"No review feedback for {repository} in team {team} yet."))
        return
    out.print(escape(f"Review precision of {repository} (team {team}):"))
    for entry in found:
        state = "ok"
        if entry.demoted:
            state = (
                f"demoted: threshold {entry.threshold:.2f}" if entry.threshold is not None else "demoted: summary only"
            )
        out.print(
            escape(
                f"  {entry.category}: precision {entry.precision:.2f} "
                f"({entry.useful} useful, {entry.not_useful} not; floor {entry.precision_floor:.2f} "
                f"after {entry.min_signals} signals) {state}"
            ),
            soft_wrap=True,  # one line per category, for grep
        )
