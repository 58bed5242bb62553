"""The `adjutant` entry point imports a command's module only when that command runs: the help page and
the lighter commands start without Sanic, Tortoise, Redis or the search stack, help is plain text (no Rich,
no second copy of click), and the table the help page is drawn from says exactly what the commands say."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli.main import COMMANDS, cli, load_command
from tests.cli.imports import run_cli

HEAVY = ("sanic", "tortoise", "asyncpg", "redis", "numpy", "onnxruntime", "app.api.app", "app.search.indexer")
# What only drawing help used to import: Rich (typer's Rich help), pygments (via Rich) and the click package
# (typer carries its own copy).
HELP_RENDERING = ("rich", "pygments", "click")


def first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_loads_and_the_listing_says_what_it_says(name):
    command = load_command(name)
    assert command.name == name
    assert first_paragraph(command.help) == first_paragraph(COMMANDS[name].help)


def test_the_help_page_imports_no_service_database_search_or_rich_module():
    run = run_cli("--help")
    assert run.code == 0 and "Commands:" in run.output
    assert run.loaded(*HEAVY, *HELP_RENDERING) == []


def test_a_commands_help_imports_only_what_the_command_itself_needs():
    for argv in (("search", "--help"), ("token", "--help")):
        run = run_cli(*argv)
        assert run.code == 0 and "Usage: adjutant" in run.output
        assert run.loaded(*HEAVY, "pygments", "click") == []


def test_bad_usage_is_a_plain_usage_line_and_exit_2():
    run = run_cli("no-such-command")
    assert run.code == 2
    assert "Usage: adjutant [OPTIONS] COMMAND [ARGS]..." in run.stderr
    assert "Error: No such command 'no-such-command'." in run.stderr
    assert "╭" not in run.stderr  # no Rich panel
    assert run.loaded("rich", "click") == []


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_listing_shows_each_commands_whole_first_paragraph():
    listed = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    for entry in COMMANDS.values():
        assert flat(entry.help) in flat(listed.output)  # wrapped, never cut to click's 45 characters
    token = CliRunner().invoke(cli, ["token", "--help"], terminal_width=80)
    assert "Only the token is printed on stdout, so it can be captured by scripts." in flat(token.output)
    assert "requests with them are rejected from then on" in flat(token.output)


def test_the_help_page_lists_every_command_and_unknown_ones_are_refused():
    runner = CliRunner()
    listed = runner.invoke(cli, ["--help"])
    assert listed.exit_code == 0
    for name in COMMANDS:
        assert name in listed.output
    unknown = runner.invoke(cli, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_a_loaded_command_runs_with_its_own_options():
    result = CliRunner().invoke(cli, ["config", "docs"])
    assert result.exit_code == 0 and result.output.startswith("# Configuration reference")
    refused = CliRunner().invoke(cli, ["config", "docs", "--no-such-option"])
    assert refused.exit_code == 2
