"""`adjutant review REPO NUMBER --connection NAME`, run as an operator would: it prints what it would post and
posts nothing; with --post it posts and records the review, and the same head is not reviewed twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.db.models import PrReview
from app.db.repositories.identity import get_or_create_team
from app.integrations.connections import ConnectionInput
from app.review.pr.service import review_kit
from tests.api.scripted_models import Script, model
from tests.review.pr.conftest import KEYS, SECRET, review_settings
from tests.review.pr.scenarios import PATH, GitHubScenario
from tests.review.scripted import finding, report

ROOT = Path(__file__).resolve().parents[3]
NOISY = finding(
    PATH,
    12,
    "Logging every read floods the log",
    severity="medium",
    category="observability",
    confidence=0.9,
    explanation="Each lookup writes a log line.",
    evidence='log("read", key)',
)


def adjutant(*args: str, database_url: str, config: Path) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ADJUTANT_", "OPENAI", "ANTHROPIC", "GEMINI"))}
    env = keep | {"DATABASE_URL": database_url, "ADJUTANT_LOGGING__LEVEL": "ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "review", *args, "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


async def test_the_command_line_reviews_a_pull_request_dry_then_posting(database_url, redis_url, db, tmp_path):
    script = Script(tmp_path, "reviewer")
    script.play(report(NOISY), mode="repeat")
    scenario = GitHubScenario().start()
    try:
        scenario.seed()
        team = await get_or_create_team("core")
        async with review_kit(review_settings(database_url, redis_url, script), redis=None) as kit:
            await kit.connections.add(
                team.id,
                None,
                ConnectionInput(
                    kind="github",
                    name="gh",
                    base_url=scenario.url,
                    credentials=scenario.credentials,
                    webhook_secret=SECRET,
                ),
            )
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "llm": {
                        "models": [model(1, "reviewer", script)],
                        "code_gen_models": ["reviewer"],
                        "default_model": "reviewer",
                    },
                    "chat": {"summary_model": "reviewer"},
                    "review": {"critic": False, "model": "reviewer"},
                    "secrets": {"keys": KEYS},
                    "integrations": {"allowed_hosts": ["127.0.0.1"]},
                }
            )
        )

        dry = adjutant(
            "acme/shop", "7", "--connection", "gh", "--team", "core", database_url=database_url, config=config
        )
        assert dry.returncode == 0, dry.stderr
        assert "Would post 1 comment(s)" in dry.stdout and "app/cache.py:12" in dry.stdout
        assert "## Adjutant review" in dry.stdout
        assert [r.method for r in scenario.fake.requests if r.method != "GET"] == []
        assert await PrReview.all().count() == 0

        posted = adjutant(
            "acme/shop",
            "7",
            "--connection",
            "gh",
            "--team",
            "core",
            "--post",
            "--json",
            database_url=database_url,
            config=config,
        )
        assert posted.returncode == 0, posted.stderr
        result = json.loads(posted.stdout)
        assert result["status"] == "COMPLETED" and [c["posted"] for c in result["comments"]] == [True]
        assert len(scenario.line_comments()) == 1 and len(scenario.summaries()) == 1
        assert (await PrReview.get(id=result["review_id"])).trigger == "cli"

        again = adjutant(
            "acme/shop", "7", "--connection", "gh", "--team", "core", "--post", database_url=database_url, config=config
        )
        assert again.returncode == 0 and "was reviewed before" in again.stdout, again.stdout + again.stderr
        unknown = adjutant(
            "acme/shop", "7", "--connection", "nope", "--team", "core", database_url=database_url, config=config
        )
        assert unknown.returncode == 1 and "CONNECTION_NOT_FOUND" in unknown.stderr
    finally:
        scenario.stop()
