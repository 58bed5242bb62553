"""The `adjutant` entry point imports a command's module only when that command runs: the help page and
the lighter commands start without Sanic, Tortoise, Redis or the search stack, and the table the help page
is drawn from says exactly what the commands themselves say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import COMMANDS, cli, load_command

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sanic", "tortoise", "asyncpg", "redis", "numpy", "onnxruntime", "app.api.app", "app.search.indexer")


def first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_loads_and_the_listing_says_what_it_says(name):
    command = load_command(name)
    assert command.name == name
    assert first_paragraph(command.help) == first_paragraph(COMMANDS[name].help)


def imported_by(*argv: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running `adjutant ARGV`."""
    probe = (
        "import json, sys\n"
        "from app.cli.main import cli\n"
        "try:\n"
        f"    cli({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_help_page_imports_no_service_database_or_search_module():
    assert imported_by("--help") == []


def test_a_commands_help_imports_only_what_the_command_itself_needs():
    assert imported_by("search", "--help") == []
    assert imported_by("token", "--help") == []


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
