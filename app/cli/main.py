"""Entry point of the `adjutant` console script.

Commands are imported only when they run: `adjutant --help` lists them from the table below, without
importing Sanic, Tortoise, Redis or the search stack, and `adjutant search` imports only what search needs.
A new command is one row of COMMANDS (tests/cli checks every row against the command it names).

Help and usage errors are plain click text, not Rich panels: typer's Rich help costs more start-up than
the rest of `adjutant --help` together (docs/cli.md, "Start-up time").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer import Context

# Typer's own command classes, not click's: the installed typer carries its own copy of click, so importing
# the `click` package as well would only add its import time.


@dataclass(frozen=True)
class Entry:
    target: str  # "module:attribute": a command function or a typer sub-app
    help: str  # the first paragraph of its help, shown by `adjutant --help`


COMMANDS: dict[str, Entry] = {
    "serve": Entry(
        "app.cli.serve:serve",
        "Run the service. Without DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis start in the data dir.",
    ),
    "worker": Entry("app.cli.worker:worker", "Run background jobs until SIGTERM, then drain."),
    "migrate": Entry("app.cli.admin:migrate", "Create the database if needed and apply pending migrations."),
    "chat": Entry("app.cli.chat:chat", "Chat with the assistant in the terminal; tools run on your working copy."),
    "index": Entry(
        "app.cli.code_search:index", "Index a repository for code search; unchanged files are skipped on later runs."
    ),
    "search": Entry("app.cli.code_search:search", "Search indexed code: ranked chunks with paths and line ranges."),
    "ask": Entry("app.cli.ask:ask", "Answer a question from the team's indexed sources, with numbered citations."),
    "review": Entry(
        "app.cli.review:review",
        "Review a local diff (--diff FILE) or a pull request (REPO PR_NUMBER --connection NAME); or print (and "
        "with --post, post) a repository's stale digest or review report (digest|report REPO --connection NAME).",
    ),
    "release-notes": Entry(
        "app.cli.release_notes:release_notes", "Write release notes for a range of a repository's history."
    ),
    "token": Entry("app.cli.admin:token_app", "Create, list and revoke API tokens."),
    "config": Entry("app.cli.admin:config_app", "Check and document the configuration."),
    "integrations": Entry(
        "app.cli.integrations:integrations_app", "Connect the team's SCM, trackers, docs and chat platforms."
    ),
    "team": Entry("app.cli.team:team_app", "Team members and their roles (member, maintainer, admin)."),
    "jobs": Entry("app.cli.jobs:jobs_app", "The team's background jobs: list, show, retry."),
    "knowledge": Entry("app.cli.knowledge:knowledge_app", "The team's knowledge: Q&A and documentation for answers."),
    "crawl": Entry("app.cli.crawl:crawl_app", "Crawl a connection's repositories and index them."),
    "schedules": Entry("app.cli.jobs:schedules_app", "The team's recurring jobs: list, add, remove."),
    "feedback": Entry("app.cli.feedback:feedback_app", "Developer feedback to documentation tickets."),
    "graph": Entry("app.cli.graph:graph_app", "Ask the symbol graph of an indexed repository."),
}


def load_command(name: str) -> TyperCommand | TyperGroup:
    """Import the module of one command and build its click command."""
    module, _, attribute = COMMANDS[name].target.partition(":")
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        target.rich_markup_mode = None  # a sub-app's help looks like the top-level one (and skips Rich too)
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    list_in_full(command)
    return command


def list_in_full(group: Any) -> None:
    """Make a group's listing show each subcommand's whole first paragraph, as Rich did, not click's
    45-character cut."""
    for command in getattr(group, "commands", {}).values():
        if not command.short_help and command.help:
            command.short_help = " ".join(command.help.strip().split("\n\n")[0].split())
        list_in_full(command)


class LazyCommands(TyperGroup):
    """The top-level group: names and help from COMMANDS, a command's module imported when it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name not in COMMANDS:
            return None
        if self.listing:  # the help page needs a name and a line of help, not the command
            entry = COMMANDS[cmd_name]
            return TyperCommand(cmd_name, help=entry.help, short_help=entry.help, rich_markup_mode=None)
        return load_command(cmd_name)

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


cli = typer.Typer(
    name="adjutant",
    cls=LazyCommands,
    help="Adjutant: a self-hostable backend for AI coding assistants.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold tokens and keys
    add_completion=False,
)


@cli.callback()
def adjutant() -> None:
    """Adjutant: a self-hostable backend for AI coding assistants."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
