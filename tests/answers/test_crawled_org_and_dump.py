"""The whole path an organisation takes to an answer: its repositories crawled from the fake GitHub (cloned from a
real git server and indexed by the crawl's index jobs), a Stack Overflow data dump imported through the knowledge
API, and one question answered over SSE with numbered citations that point into both."""

from __future__ import annotations

import asyncio
import base64

import pytest

from tests.answers.test_answers import sse
from tests.api.scripted_models import scripted_settings
from tests.conftest import start_service, stop_service
from tests.fakes.git_server import GitHTTPServer
from tests.fakes.github_server import FakeGitHub
from tests.knowledge.test_dump import posts_xml
from tests.search.crawl.test_crawl import call, connect, crawled, publish

LISTS = {
    "lists/reversal.py": (
        "def reverse_items(items):\n"
        '    """Reverse a list of items into a new list, leaving the original untouched."""\n'
        "    return items[::-1]\n"
    )
}


@pytest.fixture
def organisation(tmp_path):
    _, head = publish(tmp_path, "acme/lists", LISTS)
    with GitHTTPServer(tmp_path / "served") as server, FakeGitHub() as github:
        github.clone_base = server.base_url
        github.add_repo("acme/lists").branches["main"] = head
        github.repos["acme/lists"].meta.update(language="Python")
        yield github


@pytest.fixture
async def running(database_url, redis_url, tmp_path):
    roots = tmp_path / "dumps"
    roots.mkdir()
    (roots / "Posts.xml").write_bytes(posts_xml())
    settings, chat, _ = scripted_settings(
        database_url,
        redis_url,
        tmp_path,
        **{
            "secrets.keys": "k1:" + base64.b64encode(bytes(range(32))).decode(),
            "integrations.allowed_hosts": ["127.0.0.1"],
            "search.git_allowed_hosts": ["127.0.0.1"],
            "search.repos_dir": str(tmp_path / "clones"),
            "search.local_roots": [str(roots)],
            "jobs.poll_ms": 50,
            "answers.rerank": False,
        },
    )
    service = await start_service(settings)
    service.chat, service.dump = chat, roots / "Posts.xml"
    yield service
    await stop_service(service)


async def imported(service, token, body: dict) -> dict:
    asked = await call(service, "POST", "/v1/knowledge/imports", token, json=body)
    assert asked.status_code == 202, asked.text
    for _ in range(600):
        view = (await call(service, "GET", f"/v1/knowledge/imports/{asked.json()['data']['id']}", token)).json()
        if view["data"]["status"] in ("SUCCEEDED", "FAILED"):
            return view["data"]
        await asyncio.sleep(0.1)
    raise AssertionError("the import did not finish")


async def test_a_crawled_organisation_and_an_imported_dump_answer_one_question_with_citations_from_both(
    running, organisation
):
    token = await running.issue_token()
    await connect(running, token, organisation)
    crawl = await crawled(running, token, {"connection": "gh", "scope": {"org": "acme"}})
    assert crawl["status"] == "SUCCEEDED" and crawl["progress"]["indexed"] == 1, crawl
    dump = await imported(running, token, {"kind": "dump", "path": str(running.dump), "tags": ["python"]})
    assert dump["status"] == "SUCCEEDED", dump

    running.chat.play({"text": "Slice it backwards [1]; the team's helper does exactly that [2]. [7]"})
    response = await call(
        running,
        "POST",
        "/v1/answer/stream",
        token,
        json={"query": "How do I reverse a list in Python?", "max_results": 2, "response_type": "howto"},
    )
    assert response.status_code == 200, response.text
    events = sse(response.text)
    assert events[0][0] == "sources" and events[-1][0] == "final"
    sources = events[0][1]["sources"]
    assert len(sources) == 2 and {s["kind"] for s in sources} == {"code", "qa"}, sources
    code = next(s for s in sources if s["kind"] == "code")
    qa = next(s for s in sources if s["kind"] == "qa")
    assert code["repository"] == "acme__lists" and code["path"] == "lists/reversal.py"
    assert "stackoverflow.com" in qa["url"] and qa["attribution"]["licence"].startswith("CC BY-SA")
    final = events[-1][1]
    # Both numbers name a retrieved source — one of each kind — and the invented [7] is removed and reported.
    assert final["answered"] is True and final["citations"] == {"cited": [1, 2], "removed": [7]}
    assert [s["number"] for s in sources] == [1, 2]
    prompt = str(running.chat.calls()[-1])
    assert "reverse_items" in prompt and "[::-1]" in prompt
