"""Run `adjutant ARGV` in a fresh interpreter and report which modules it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "--imported-modules--"

PROBE = """
import json, sys
from app.cli.main import cli
code = 0
try:
    cli(sys.argv[1:], prog_name="adjutant")
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
print({marker!r} + json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


@dataclass
class Run:
    code: int
    output: str  # stdout before the module list
    stderr: str
    modules: set[str]

    def loaded(self, *packages: str) -> list[str]:
        """Which of these packages (or modules) the run imported, at any depth."""
        return sorted(p for p in packages if any(m == p or m.startswith(p + ".") for m in self.modules))


def run_cli(*argv: str, env: dict[str, str] | None = None) -> Run:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(marker=MARKER), *argv],
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output, _, report = done.stdout.rpartition(MARKER)
    assert report, f"the probe did not finish: {done.stderr}"
    result = json.loads(report)
    return Run(result["code"], output, done.stderr, set(result["modules"]))
