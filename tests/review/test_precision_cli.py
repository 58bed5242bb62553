"""`adjutant review precision REPO --team T`, run as an operator would: per category, the counts, precision and
demotion of the team's repository; another team sees none of it."""

from __future__ import annotations

import json
from pathlib import Path

from app.db.repositories import review_feedback as signals
from app.db.repositories.identity import get_or_create_team
from tests.review.pr.test_cli import adjutant


async def test_the_command_line_prints_a_repositorys_precision(database_url, db, tmp_path: Path):
    core = await get_or_create_team("core")
    await get_or_create_team("other")
    for index in range(5):
        signal = signals.Signal("acme/shop", "style", "github", f"c{index}", "thumbs_down", f"u{index}", False)
        await signals.record(core.id, signal)
    config = tmp_path / "config.json"
    config.write_text("{}")

    shown = adjutant("precision", "acme/shop", "--team", "core", database_url=database_url, config=config)
    assert shown.returncode == 0, shown.stderr
    assert "style: precision 0.14 (0 useful, 5 not" in shown.stdout and "demoted: threshold 0.85" in shown.stdout

    as_json = adjutant("precision", "acme/shop", "--team", "core", "--json", database_url=database_url, config=config)
    (category,) = json.loads(as_json.stdout)["categories"]
    assert (category["category"], category["not_useful"], category["demoted"]) == ("style", 5, True)

    foreign = adjutant("precision", "acme/shop", "--team", "other", database_url=database_url, config=config)
    assert foreign.returncode == 0 and "No review feedback for acme/shop" in foreign.stdout
    missing = adjutant("precision", "acme/shop", "--team", "nobody", database_url=database_url, config=config)
    assert missing.returncode == 2 and "there is no team 'nobody'" in missing.stdout + missing.stderr
