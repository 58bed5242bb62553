"""`adjutant feedback add|run|clusters|tickets|reject`, run as an operator would, against the test database:
feedback added from the command line becomes a draft on `run`, is listed, and is rejected; bad input is one
line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.db.models import DocTicket, FeedbackMessage
from app.db.repositories.identity import get_or_create_team
from app.feedback.messages import IncomingMessage, store_messages
from tests.feedback.conftest import KEYS

ROOT = Path(__file__).resolve().parents[2]
URL = "https://support.example.com/t/3"


def adjutant(*args: str, database_url: str, config: Path) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ADJUTANT_", "OPENAI", "ANTHROPIC", "GEMINI"))}
    env = keep | {"DATABASE_URL": database_url, "ADJUTANT_LOGGING__LEVEL": "ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "feedback", *args, "--team", "core", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_feedback_added_on_the_command_line_becomes_a_draft_that_is_listed_and_rejected(
    db, database_url: str, tmp_path: Path
):
    team = await get_or_create_team("core")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"secrets": {"keys": KEYS}, "feedback": {"recent_days": 3650}}))
    said = [
        ("ada", "The Windows install guide skips adding the binary to PATH"),
        ("bob", "Windows installation docs forget the PATH step, command not found"),
        ("carol", "After installing on Windows the docs never explain adding it to PATH"),
    ]
    # Two arrived through the API; the operator adds the third.
    for author, text in said[:2]:
        await store_messages(
            team.id, None, [IncomingMessage(source="api", external_id=author, author_id=author, text=text)]
        )
    added = adjutant("add", said[2][1], "--author", "carol", "--url", URL, database_url=database_url, config=config)
    assert added.returncode == 0 and "stored as message" in added.stdout, added.stderr
    bad = adjutant("add", "text", "--url", "ftp://example.com", database_url=database_url, config=config)
    assert bad.returncode == 2 and "http(s)://" in bad.stderr
    assert await FeedbackMessage.all().count() == 3

    ran = adjutant("run", "--json", database_url=database_url, config=config)
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert (run["trigger"], run["messages_read"], run["significant"], run["tickets_created"]) == ("cli", 0, 1, 1)

    listed = adjutant("tickets", "--json", database_url=database_url, config=config)
    [ticket] = json.loads(listed.stdout)
    assert ticket["status"] == "draft" and ticket["evidence_count"] == 3
    clusters = json.loads(adjutant("clusters", "--json", database_url=database_url, config=config).stdout)
    assert [(c["size"], c["people"], c["ticket_id"]) for c in clusters] == [(3, 3, ticket["id"])]

    rejected = adjutant("reject", str(ticket["id"]), "--json", database_url=database_url, config=config)
    assert rejected.returncode == 0 and json.loads(rejected.stdout)[0]["status"] == "rejected"
    twice = adjutant("reject", str(ticket["id"]), database_url=database_url, config=config)
    assert twice.returncode == 2 and "only a draft can be rejected" in twice.stderr
    assert (await DocTicket.get(id=ticket["id"])).status == "rejected"
