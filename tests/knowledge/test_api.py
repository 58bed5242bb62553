"""Knowledge over HTTP: an import is checked, queued as a job and followed to its end; the imported Q&A and docs
are searchable with their credit; bad input queues nothing; another team's import answers like an unknown one."""

from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_settings, reachable_temp_dir, start_service, stop_service
from tests.fakes.stackexchange_server import FakeAnswer, FakeQuestion, FakeStackExchange
from tests.knowledge.test_dump import posts_xml

SECRET_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def stackexchange():
    with FakeStackExchange() as fake:
        fake.add_question(
            FakeQuestion(
                1,
                "How do I retry a failed HTTP request with httpx?",
                ["python", "httpx"],
                20,
                "<p>Requests fail sometimes.</p>",
                answers=[
                    FakeAnswer(
                        11,
                        15,
                        "<p>Use a transport with retries:</p><pre><code>transport = httpx.HTTPTransport(retries=3)\n"
                        "client = httpx.Client(transport=transport)</code></pre>",
                        accepted=True,
                        owner="Grace",
                    )
                ],
            )
        )
        yield fake


@pytest.fixture
def roots():
    path = reachable_temp_dir("adjutant-knowledge-")
    (path / "docs").mkdir()
    (path / "docs" / "runbook.md").write_text("# Runbook\n\n## Paging\n\nThe on-call engineer is paged by Opsgenie.\n")
    (path / "Posts.xml").write_bytes(posts_xml())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def running(database_url, redis_url, stackexchange, roots):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "secrets.keys": SECRET_KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            "knowledge.stackexchange_api_url": stackexchange.url,
            "search.local_roots": [str(roots)],
            "jobs.poll_ms": 50,
        },
    )
    service = await start_service(settings)
    yield service
    await stop_service(service)


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


async def finished(service, token, import_id: int) -> dict:
    view: dict = {}
    for _ in range(600):
        view = (await call(service, "GET", f"/v1/knowledge/imports/{import_id}", token)).json()["data"]
        if view["status"] in ("SUCCEEDED", "FAILED"):
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {import_id} did not finish: {view}")


async def test_imports_run_as_jobs_and_their_knowledge_is_searchable(running, roots: Path):
    token = await running.issue_token()
    asked = await call(
        running, "POST", "/v1/knowledge/imports", token, json={"kind": "stackexchange", "tags": ["python"]}
    )
    assert asked.status_code == 202, asked.text
    view = asked.json()["data"]
    assert view["status"] == "QUEUED" and view["job_id"] and view["source"]["name"] == "stackoverflow:python"
    done = await finished(running, token, view["id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["progress"]["created"] == 1 and done["progress"]["api_calls"] == 2

    docs = await call(
        running,
        "POST",
        "/v1/knowledge/imports",
        token,
        json={"kind": "docs", "path": str(roots / "docs"), "name": "runbooks"},
    )
    dump = await call(
        running,
        "POST",
        "/v1/knowledge/imports",
        token,
        json={"kind": "dump", "path": str(roots / "Posts.xml"), "tags": ["python"]},
    )
    for response in (docs, dump):
        assert response.status_code == 202, response.text
        assert (await finished(running, token, response.json()["data"]["id"]))["status"] == "SUCCEEDED"

    sources = (await call(running, "GET", "/v1/knowledge/sources", token)).json()["data"]["sources"]
    by_name = {s["name"]: s for s in sources}
    assert set(by_name) == {"stackoverflow:python", "runbooks", "dump:stackoverflow.com:python"}
    assert (
        by_name["runbooks"]["document_count"] == 1 and by_name["dump:stackoverflow.com:python"]["document_count"] == 2
    )

    found = await call(
        running, "GET", "/v1/knowledge/search", token, params={"q": "retry httpx request", "kinds": "qa"}
    )
    assert found.status_code == 200, found.text
    hit = found.json()["data"]["hits"][0]
    assert hit["qa"]["answer_id"] == 11 and hit["attribution"]["author"] == "Grace"
    paging = (await call(running, "GET", "/v1/knowledge/search", token, params={"q": "who gets paged on call"})).json()
    assert paging["data"]["hits"][0]["section"] == "Runbook > Paging"

    again = await call(
        running, "POST", "/v1/knowledge/imports", token, json={"kind": "stackexchange", "tags": ["python"]}
    )
    repeat = await finished(running, token, again.json()["data"]["id"])
    assert repeat["progress"]["unchanged"] == 1 and repeat["progress"]["created"] == 0  # idempotent

    broken = await call(
        running, "POST", "/v1/knowledge/imports", token, json={"kind": "stackexchange", "site": "nosuchsite"}
    )
    failed = await finished(running, token, broken.json()["data"]["id"])
    assert failed["status"] == "FAILED" and "bad_parameter" in failed["error"]
    job = (await call(running, "GET", f"/v1/jobs/{failed['job_id']}", token)).json()["data"]
    assert job["status"] == "DEAD"  # the API refused the request itself: not tried again


async def test_bad_imports_queue_nothing_and_foreign_imports_look_unknown(running, roots: Path, tmp_path: Path):
    token = await running.issue_token()
    other = await running.issue_token(email="else@example.com", team="elsewhere")
    outside = tmp_path / "Posts.xml"
    outside.write_bytes(posts_xml())
    cases = [
        {"kind": "dump", "path": str(outside)},  # not inside search.local_roots
        {"kind": "docs", "repository": "nope"},  # no such indexed repository
        {"kind": "stackexchange", "tags": ["not a tag!"]},
        {"kind": "confluence", "connection": "missing", "space": "ENG"},
        {"kind": "carrier-pigeon"},
        {"kind": "urls", "urls": []},
    ]
    for body in cases:
        response = await call(running, "POST", "/v1/knowledge/imports", token, json=body)
        assert response.status_code in (404, 422), (body, response.text)
    assert (await call(running, "GET", "/v1/knowledge/imports", token)).json()["data"]["imports"] == []
    assert (await call(running, "GET", "/v1/knowledge/sources", token)).json()["data"]["sources"] == []

    mine = await call(
        running,
        "POST",
        "/v1/knowledge/imports",
        token,
        json={"kind": "docs", "path": str(roots / "docs"), "name": "runbooks"},
    )
    import_id = mine.json()["data"]["id"]
    foreign = await call(running, "GET", f"/v1/knowledge/imports/{import_id}", other)
    unknown = await call(running, "GET", "/v1/knowledge/imports/99999999", other)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"] == unknown.json()["error"]
    assert foreign.json()["error"]["message"] == "KNOWLEDGE_IMPORT_NOT_FOUND"
    clash = await call(
        running,
        "POST",
        "/v1/knowledge/imports",
        token,
        json={"kind": "faq", "path": str(roots / "docs"), "name": "runbooks"},
    )
    assert clash.status_code == 409
    await finished(running, token, import_id)
    assert (await call(running, "GET", "/v1/knowledge/search", other, params={"q": "paged"})).json()["data"][
        "hits"
    ] == []
