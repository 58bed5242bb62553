"""Entry point of the `adjutant` console script."""

from __future__ import annotations

import typer

from app.cli import admin
from app.cli.chat import chat
from app.cli.code_search import index, search
from app.cli.integrations import integrations_app
from app.cli.jobs import jobs_app, schedules_app
from app.cli.release_notes import release_notes
from app.cli.review import review
from app.cli.serve import serve
from app.cli.team import team_app
from app.cli.worker import worker

cli = typer.Typer(
    name="adjutant",
    help="Adjutant: a self-hostable backend for AI coding assistants.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens and keys
    add_completion=False,
)
cli.command()(serve)
cli.command()(worker)
cli.command()(admin.migrate)
cli.command()(chat)
cli.command()(index)
cli.command()(search)
cli.command()(review)
cli.command("release-notes")(release_notes)
cli.add_typer(admin.token_app, name="token")
cli.add_typer(admin.config_app, name="config")
cli.add_typer(integrations_app, name="integrations")
cli.add_typer(team_app, name="team")
cli.add_typer(jobs_app, name="jobs")
cli.add_typer(schedules_app, name="schedules")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
