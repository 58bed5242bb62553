"""`adjutant knowledge`: imports run in place with a summary, a re-run changes nothing, bad input is one line and
exit 2, and list/search show what was imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.knowledge.test_dump import posts_xml


def adjutant(database_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, ADJUTANT_LOGGING__FORMAT="json")
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "knowledge", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_import_list_and_search_from_the_command_line(database_url, redis_url, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "oncall.md").write_text(
        "# On-call\n\n## Escalation\n\nEscalate to the incident commander after 15 minutes.\n"
    )
    (tmp_path / "Posts.xml").write_bytes(posts_xml())

    first = adjutant(database_url, redis_url, "import", "docs", str(docs), "--name", "handbook", "--team", "core")
    assert first.returncode == 0, first.stderr
    assert "handbook: 1 items (1 new, 0 changed, 0 unchanged, 0 removed); 1 documents" in first.stdout
    again = adjutant(database_url, redis_url, "import", "docs", str(docs), "--name", "handbook", "--team", "core")
    assert "(0 new, 0 changed, 1 unchanged, 0 removed)" in again.stdout

    dump = adjutant(
        database_url, redis_url, "import", "dump", str(tmp_path / "Posts.xml"), "--tag", "java", "--team", "core"
    )
    assert dump.returncode == 0, dump.stderr
    assert "1 items (1 new" in dump.stdout

    listed = json.loads(adjutant(database_url, redis_url, "list", "--json", "--team", "core").stdout)
    assert {s["name"]: s["document_count"] for s in listed["sources"]} == {
        "handbook": 1,
        "dump:stackoverflow.com:java": 1,
    }
    assert [r["status"] for r in listed["imports"]] == ["SUCCEEDED"] * 3

    found = adjutant(database_url, redis_url, "search", "who do I escalate to", "--team", "core", "--json")
    hits = json.loads(found.stdout)
    assert hits[0]["title"] == "On-call" and hits[0]["section"] == "On-call > Escalation"
    java = adjutant(database_url, redis_url, "search", "parse an int", "--kind", "qa", "--team", "core")
    assert "CC BY-SA 2.5" in java.stdout


def test_bad_input_is_one_line_and_changes_nothing(database_url, redis_url, tmp_path: Path):
    bad_tag = adjutant(database_url, redis_url, "import", "stackexchange", "--tag", "no spaces", "--team", "core")
    assert bad_tag.returncode == 2 and "not a Stack Exchange tag" in bad_tag.stderr
    no_repo = adjutant(database_url, redis_url, "import", "faq", "--repository", "missing", "--team", "core")
    assert no_repo.returncode == 2 and "no indexed repository named missing" in no_repo.stderr
    listed = adjutant(database_url, redis_url, "list", "--team", "core")
    assert "no knowledge sources" in listed.stdout
