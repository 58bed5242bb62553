"""`adjutant review --diff FILE`, run as a user would, with a scripted model from a config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from app.cli.main import cli
from tests.api.scripted_models import Script
from tests.review.diffs import file_diff_text
from tests.review.scripted import finding, report

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "def read(name):\n    return load(name)\n"
AFTER = "def read(name):\n    return open('/data/' + name).read()\n"
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ADJUTANT_CONFIG")


def adjutant(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS and not k.startswith("ADJUTANT_PROVIDERS")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "review", *args],
        cwd=ROOT,
        env=env | {"ADJUTANT_LOGGING__LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def model_entry(name: str, route: dict) -> dict:
    return {
        "id": 1,
        "name": name,
        "display_name": name,
        "input_token_limit": 100_000,
        "output_token_limit": 4000,
        "routes": [route],
    }


def test_a_local_diff_is_reviewed_with_the_configured_model(tmp_path):
    script = Script(tmp_path, "reviewer")
    script.play(
        report(
            finding(
                "files.py",
                2,
                "Path traversal",
                severity="critical",
                category="security",
                evidence="return open('/data/' + name).read()",
            ),
            finding("files.py", 40, "Far from the change", evidence="whatever"),
        ),
        report(),
        mode="repeat",
    )
    route = {"provider": "scripted", "script_path": str(script.path), "record_path": str(script.record)}
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "llm": {
                    "models": [model_entry("reviewer", route)],
                    "code_gen_models": ["reviewer"],
                    "default_model": "reviewer",
                },
                "review": {"critic": False},
            }
        )
    )
    diff = tmp_path / "change.diff"
    diff.write_text(file_diff_text("files.py", BEFORE, AFTER) + file_diff_text("docs/a.md", "a\n", "b\n"))
    rules = tmp_path / ".adjutant.toml"
    rules.write_text('[review]\nignore = ["docs/**"]\ndisable = ["performance", "maintainability", "business_logic"]\n')

    done = adjutant("--diff", str(diff), "--repo-rules", str(rules), "--json", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(script.calls()) == 2  # security and correctness only
    assert [(f["path"], f["line"], f["title"]) for f in result["findings"]] == [("files.py", 2, "Path traversal")]
    assert [(d["finding"]["title"], d["reason"].split(":")[0]) for d in result["dropped"]] == [
        ("Far from the change", "off_diff")
    ]
    assert result["omitted"] == [{"path": "docs/a.md", "reason": "ignored by the repository's review rules"}]

    shown = adjutant("--diff", str(diff), "--config", str(config), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "critical files.py:2  Path traversal" in shown.stdout and "off_diff:" in shown.stdout
    assert "## Review summary" in shown.stdout


def test_without_a_usable_model_one_line_and_exit_2(tmp_path):
    config = tmp_path / "config.json"
    keyless = model_entry("keyless", {"provider": "anthropic", "model": "claude-x"})
    config.write_text(
        json.dumps(
            {
                "llm": {"models": [keyless], "code_gen_models": ["keyless"], "default_model": "keyless"},
                "providers": {"local_enabled": False},
            }
        )
    )
    diff = tmp_path / "change.diff"
    diff.write_text(file_diff_text("files.py", BEFORE, AFTER))
    done = adjutant("--diff", str(diff), "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adjutant: no usable model for review:")


def test_bad_input_is_refused_before_anything_starts(tmp_path):
    diff = tmp_path / "change.diff"
    diff.write_text(file_diff_text("files.py", BEFORE, AFTER))
    (tmp_path / "bad.toml").write_text("[review]\nseverity_floor = 'urgent'\n")
    (tmp_path / "empty.diff").write_text("not a diff\n")
    runner = CliRunner()
    bad = runner.invoke(cli, ["review", "--diff", str(diff), "--repo-rules", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 2 and "review.severity_floor" in bad.output
    empty = runner.invoke(cli, ["review", "--diff", str(tmp_path / "empty.diff")])
    assert empty.exit_code == 2 and "holds no file changes" in empty.output
    neither = runner.invoke(cli, ["review"])
    assert neither.exit_code == 2 and "give --diff FILE" in neither.output
