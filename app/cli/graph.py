"""`adjutant graph callers|callees|references|definitions SYMBOL --repo R`: the symbol graph from the shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.cli.admin import run_on_database
from app.cli.common import ConfigOption, DataDirOption, fail, out, settings_from_cli
from app.db.repositories.identity import team_named
from app.errors import NotFound
from app.search.graph import questions
from app.search.graph.tool import describe

graph_app = typer.Typer(help="Ask the symbol graph of an indexed repository.", no_args_is_help=True)

SymbolArgument = Annotated[str, typer.Argument(help="A bare name (save) or a qualified one (pkg.mod.Class.save).")]
RepoOption = Annotated[str, typer.Option("--repo", help="The index name.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="At most this many results.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TeamOption = Annotated[str, typer.Option(help="The team that owns the index.")]


def _ask(question: questions.Question, symbol: str, repo: str, limit: int, as_json: bool, team: str, settings) -> None:
    async def run() -> questions.Page:
        owner = await team_named(team)
        if owner is None:
            raise fail(f"no team named {team!r}")
        try:
            return await questions.ask(question, team_id=owner.id, repository=repo, symbol=symbol, limit=limit)
        except NotFound:
            raise fail(f"no repository named {repo!r} (adjutant index PATH --name {repo})") from None

    page = run_on_database(settings, run)
    if as_json:
        print(json.dumps(page.as_dict(), indent=2))
    else:
        out.print(describe(page), markup=False, highlight=False)


def _command(question: questions.Question, help_text: str) -> None:
    def command(
        symbol: SymbolArgument,
        repo: RepoOption,
        limit: LimitOption = 50,
        as_json: JsonOption = False,
        team: TeamOption = "default",
        data_dir: DataDirOption = None,
        config: ConfigOption = None,
    ) -> None:
        _ask(question, symbol, repo, limit, as_json, team, settings_from_cli(data_dir, config))

    command.__doc__ = help_text
    graph_app.command(question)(command)


_command("callers", "What calls SYMBOL (resolved through imports; unresolved same-name calls marked).")
_command("callees", "What SYMBOL calls, each resolved to its definition or marked unresolved.")
_command("references", "Where SYMBOL is used: calls, imports and other uses.")
_command("definitions", "Where SYMBOL is defined.")
