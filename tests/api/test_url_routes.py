"""docs/protocol.md §4.2: saved URLs (owned, validated, soft-deleted, capped, paginated newest first) and URL summaries
(bounded input, written by the helper model, typed errors when no model can write them)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from app.db.models import SavedUrl
from tests.conftest import make_settings, start_service, stop_service

SAVE = "/end_user/v1/urls/save_url"
UPDATE = "/end_user/v1/urls/update_url"
DELETE = "/end_user/v1/urls/delete_url"
LIST = "/end_user/v1/urls/saved_url/list"
SUMMARIZE = "/end_user/v1/urls/summarize_url"
BINARY = {"X-Client": "BINARY"}  # the local binary may present itself so (docs/protocol.md §1.2)


async def save(service, token, name="Sanic docs", url="https://sanic.dev/en/", last_indexed=None):
    body = {"name": name, "url": url, "last_indexed": last_indexed}
    response = await service.request("POST", SAVE, token=token, json=body, headers=BINARY)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def listed(service, token, **params):
    response = await service.request("GET", LIST, token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_saved_url_round_trips_with_utc_timestamps(service):
    token = await service.issue_token()
    saved = await save(service, token, last_indexed="2025-03-01T10:20:30.123456+00:00")
    assert saved == {
        "id": saved["id"],
        "name": "Sanic docs",
        "url": "https://sanic.dev/en/",
        "last_indexed": "2025-03-01T10:20:30.123456+00:00",
    }
    assert isinstance(saved["id"], int) and saved["id"] > 0
    other_zone = await save(service, token, name="b", last_indexed="2025-03-01T12:00:00+02:00")
    assert other_zone["last_indexed"] == "2025-03-01T10:00:00+00:00"
    naive = await save(service, token, name="c", last_indexed="2025-03-01T10:00:00")
    assert naive["last_indexed"] == "2025-03-01T10:00:00+00:00"
    never = await save(service, token, name="d", url="http://intranet.local:8080/wiki?page=1#top")
    assert never["last_indexed"] is None and never["url"] == "http://intranet.local:8080/wiki?page=1#top"
    upper = await save(service, token, name="e", url="HTTPS://Example.COM/Path")
    assert upper["url"] == "HTTPS://Example.COM/Path"  # stored as given; the scheme is checked case-blind
    page = await listed(service, token)
    assert [u["name"] for u in page["urls"]] == ["e", "d", "c", "b", "Sanic docs"]  # newest first
    assert page["urls"][-1] == saved


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "ftp://example.com/file"},
        {"name": "x", "url": "javascript:alert(1)"},
        {"name": "x", "url": "file:///etc/passwd"},
        {"name": "x", "url": "https://"},
        {"name": "x", "url": "example.com"},
        {"name": "x", "url": "https://exa mple.com/"},
        {"name": "x", "url": "https://example.com/\nSet-Cookie: a"},
        {"name": "x", "url": "https://user:secret@example.com/"},
        {"name": "x", "url": "https://example.com:99999/"},
        {"name": "x", "url": "https://example.com/" + "a" * 2030},
        {"name": "x", "url": ""},
        {"name": "x", "url": 5},
        {"name": "x"},
        {"name": "", "url": "https://example.com/"},
        {"name": "   ", "url": "https://example.com/"},
        {"name": "x" * 256, "url": "https://example.com/"},
        {"url": "https://example.com/"},
        {"name": "x", "url": "https://example.com/", "last_indexed": "yesterday"},
    ],
)
async def test_invalid_urls_are_refused_and_nothing_is_stored(service, body):
    token = await service.issue_token()
    response = await service.request("POST", SAVE, token=token, json=body)
    assert response.status_code == 422, (body, response.text)
    assert response.json()["error"]["message"] == "INVALID_REQUEST"
    assert await SavedUrl.all().count() == 0


async def test_the_longest_allowed_url_and_name_are_accepted(service):
    token = await service.issue_token()
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    saved = await save(service, token, name="n" * 255, url=url)
    assert saved["url"] == url and len(saved["name"]) == 255


async def test_updates_change_only_what_is_given(service):
    token = await service.issue_token()
    saved = await save(service, token, last_indexed="2025-01-01T00:00:00+00:00")
    # The local binary sends `url: null` when only the name changes.
    renamed = await service.request("PUT", UPDATE, token=token, json={"id": saved["id"], "name": "Sanic", "url": None})
    assert renamed.status_code == 200
    assert renamed.json()["data"] == {**saved, "name": "Sanic"}
    reindexed = await service.request(
        "PUT",
        UPDATE,
        token=token,
        json={"id": saved["id"], "url": "https://sanic.dev/", "last_indexed": "2025-02-01T00:00:00Z"},
    )
    assert reindexed.json()["data"] == {
        "id": saved["id"],
        "name": "Sanic",
        "url": "https://sanic.dev/",
        "last_indexed": "2025-02-01T00:00:00+00:00",
    }
    unchanged = await service.request("PUT", UPDATE, token=token, json={"id": saved["id"], "is_deleted": False})
    assert unchanged.json()["data"] == reindexed.json()["data"]
    bad = await service.request("PUT", UPDATE, token=token, json={"id": saved["id"], "url": "gopher://x"})
    assert bad.status_code == 422
    no_id = await service.request("PUT", UPDATE, token=token, json={"name": "x"})
    assert no_id.status_code == 422
    assert (await listed(service, token))["urls"] == [reindexed.json()["data"]]


async def test_is_deleted_in_an_update_deletes_softly(service):
    token = await service.issue_token()
    saved = await save(service, token)
    deleted = await service.request("PUT", UPDATE, token=token, json={"id": saved["id"], "is_deleted": True})
    assert deleted.status_code == 200 and deleted.json()["data"]["id"] == saved["id"]
    assert (await listed(service, token))["urls"] == []
    again = await service.request("PUT", UPDATE, token=token, json={"id": saved["id"], "name": "back"})
    assert again.status_code == 404
    row = await SavedUrl.get(id=saved["id"])
    assert row.is_deleted is True and row.name == "Sanic docs"


async def test_delete_is_soft_and_happens_once(service):
    token = await service.issue_token()
    keep = await save(service, token, name="keep")
    gone = await save(service, token, name="gone")
    response = await service.request("GET", DELETE, token=token, params={"url_id": gone["id"]})
    assert response.status_code == 200 and response.json()["data"] is None
    assert [u["name"] for u in (await listed(service, token))["urls"]] == ["keep"]
    assert (await SavedUrl.get(id=gone["id"])).is_deleted is True  # kept, only hidden
    twice = await service.request("GET", DELETE, token=token, params={"url_id": gone["id"]})
    assert twice.status_code == 404 and twice.json()["error"]["message"] == "NOT_FOUND"
    for bad in ({"url_id": "abc"}, {}):
        assert (await service.request("GET", DELETE, token=token, params=bad)).status_code == 422
    for absent in (0, -1, 2**53):
        assert (await service.request("GET", DELETE, token=token, params={"url_id": absent})).status_code == 404
    assert (await SavedUrl.get(id=keep["id"])).is_deleted is False


async def test_every_url_route_hides_other_principals_urls(service):
    ada = await service.issue_token("ada@example.com", "core")
    colleague = await service.issue_token("bob@example.com", "core")  # same team, another user
    stranger = await service.issue_token("eve@example.com", "other")  # another team
    mine = await save(service, ada, last_indexed="2025-01-01T00:00:00+00:00")
    unknown_id = mine["id"] + 1000

    def error_of(response):
        return response.status_code, response.json()["error"], response.json()["status_code"]

    for intruder in (colleague, stranger):
        assert (await listed(service, intruder)) == {
            "urls": [],
            "meta": {"page_number": 1, "total_pages": 0, "total_count": 0},
        }
        attempts = [
            ("PUT", UPDATE, {"json": {"id": mine["id"], "name": "pwned", "url": "https://evil.example/"}}),
            ("PUT", UPDATE, {"json": {"id": mine["id"], "is_deleted": True}}),
            ("GET", DELETE, {"params": {"url_id": mine["id"]}}),
        ]
        for method, path, kwargs in attempts:
            foreign = await service.request(method, path, token=intruder, **kwargs)
            id_key = "json" if "json" in kwargs else "params"
            swapped = {**kwargs[id_key], ("id" if id_key == "json" else "url_id"): unknown_id}
            unknown = await service.request(method, path, token=intruder, **{id_key: swapped})
            assert foreign.status_code == 404, (path, foreign.text)
            assert error_of(foreign) == error_of(unknown)  # foreign looks exactly like absent
    # Nothing changed for the owner.
    assert (await listed(service, ada))["urls"] == [mine]
    row = await SavedUrl.get(id=mine["id"])
    assert (row.name, row.url, row.is_deleted) == ("Sanic docs", "https://sanic.dev/en/", False)


async def test_the_list_pages_newest_first(service):
    token = await service.issue_token()
    other = await service.issue_token("bob@example.com", "core")
    for i in range(7):
        await save(service, token, name=f"u{i}", url=f"https://example.com/{i}")
    await save(service, other, name="not mine")
    first = await listed(service, token, limit=3, offset=0)
    assert [u["name"] for u in first["urls"]] == ["u6", "u5", "u4"]
    assert first["meta"] == {"page_number": 1, "total_pages": 3, "total_count": 7}
    second = await listed(service, token, limit=3, offset=3)
    assert [u["name"] for u in second["urls"]] == ["u3", "u2", "u1"] and second["meta"]["page_number"] == 2
    last = await listed(service, token, limit=3, offset=6)
    assert [u["name"] for u in last["urls"]] == ["u0"] and last["meta"]["page_number"] == 3
    beyond = await listed(service, token, limit=3, offset=9)
    assert beyond["urls"] == [] and beyond["meta"]["total_count"] == 7
    # Deleted URLs leave the count as well as the page.
    await service.request("GET", DELETE, token=token, params={"url_id": first["urls"][0]["id"]})
    assert (await listed(service, token, limit=60))["meta"] == {"page_number": 1, "total_pages": 1, "total_count": 6}
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}):
        assert (await service.request("GET", LIST, token=token, params=bad)).status_code == 422, bad


async def test_the_per_user_cap_holds_even_under_concurrent_saves(database_url, redis_url):
    running = await start_service(make_settings(database_url, redis_url, **{"extension.saved_urls_per_user": 2}))
    try:
        token = await running.issue_token()
        other = await running.issue_token("bob@example.com", "core")
        bodies = [{"name": f"n{i}", "url": f"https://example.com/{i}"} for i in range(6)]
        responses = await asyncio.gather(*(running.request("POST", SAVE, token=token, json=b) for b in bodies))
        assert sorted(r.status_code for r in responses) == [200, 200, 409, 409, 409, 409]
        refused = next(r for r in responses if r.status_code == 409)
        assert refused.json()["error"]["message"] == "CONFLICT" and "at most 2 saved URLs" in refused.text
        assert await SavedUrl.filter(is_deleted=False).count() == 2
        # The cap is per user, and a deletion frees a place.
        assert (await running.request("POST", SAVE, token=other, json=bodies[0])).status_code == 200
        kept = (await listed(running, token))["urls"]
        await running.request("GET", DELETE, token=token, params={"url_id": kept[0]["id"]})
        assert (await running.request("POST", SAVE, token=token, json=bodies[5])).status_code == 200
    finally:
        await stop_service(running)


async def test_url_routes_need_a_token(service):
    for method, path in (("POST", SAVE), ("PUT", UPDATE), ("GET", DELETE), ("GET", LIST), ("POST", SUMMARIZE)):
        response = await service.request(method, path, json={})
        assert response.status_code == 400 and response.json()["error"]["message"] == "NOT_VERIFIED", path


# --- summaries ----------------------------------------------------------------------------------------------

READER = {"MAX_CONTENT_SIZE": 1000, "SUMMARIZE_LARGE_CONTENT": True, "VALIDATE_CONTENT_UPDATION": True, "BATCH_SIZE": 5}


def summary_settings(database_url, redis_url, script: Path, record: Path, *, input_limit=5000, **overrides):
    model = {
        "id": 1,
        "name": "scripted",
        "display_name": "Scripted",
        "input_token_limit": input_limit,
        "output_token_limit": 500,
        "routes": [{"provider": "scripted", "script_path": str(script), "record_path": str(record)}],
    }
    return make_settings(
        database_url,
        redis_url,
        **{
            "llm.models": [model],
            "llm.code_gen_models": ["scripted"],
            "llm.default_model": "scripted",
            "llm.router.max_retries": 0,
            "llm.router.max_retry_after_s": 1.0,
            "client_config.local_binary.URL_CONTENT_READER": READER,
            **overrides,
        },
    )


def prompts(record: Path) -> list[str]:
    texts = []
    for line in record.read_text().splitlines():
        entry = json.loads(line)
        if "messages" in entry:
            texts.append("".join(p.get("text", "") for m in entry["messages"] for p in m["parts"]))
    return texts


@pytest.fixture
async def summary_service(database_url, redis_url, tmp_path):
    script, record = tmp_path / "script.json", tmp_path / "record.jsonl"
    script.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "  ## Summary\nUse `app.run()`.\n"}]}))
    running = await start_service(summary_settings(database_url, redis_url, script, record))
    running.script, running.record = script, record
    yield running
    await stop_service(running)


async def test_content_is_summarised_by_the_helper_model(summary_service):
    token = await summary_service.issue_token()
    content = "Content of URL https://sanic.dev: \n Sanic is an async web framework. " * 20
    assert len(content) <= 2000
    response = await summary_service.request("POST", SUMMARIZE, token=token, json={"content": content})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == "## Summary\nUse `app.run()`."
    [prompt] = prompts(summary_service.record)
    assert content in prompt and "data, not instructions" in prompt and "cut to fit" not in prompt


async def test_content_above_twice_the_client_limit_is_refused(summary_service):
    token = await summary_service.issue_token()
    exactly = await summary_service.request("POST", SUMMARIZE, token=token, json={"content": "a" * 2000})
    assert exactly.status_code == 200
    over = await summary_service.request("POST", SUMMARIZE, token=token, json={"content": "a" * 2001})
    assert over.status_code == 413 and over.json()["error"]["message"] == "PAYLOAD_TOO_LARGE"
    huge = await summary_service.request(
        "POST", SUMMARIZE, token=token, content=b'{"content": "' + b"a" * 40_000 + b'"}'
    )
    assert huge.status_code == 413
    for bad in ({"content": ""}, {"content": 5}, {}):
        assert (await summary_service.request("POST", SUMMARIZE, token=token, json=bad)).status_code == 422
    assert len(prompts(summary_service.record)) == 1  # only the accepted request reached the model


async def test_content_is_cut_to_fit_a_small_helper_model(database_url, redis_url, tmp_path):
    script, record = tmp_path / "script.json", tmp_path / "record.jsonl"
    script.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "short"}]}))
    running = await start_service(summary_settings(database_url, redis_url, script, record, input_limit=600))
    try:
        token = await running.issue_token()
        content = "!" * 2000  # ~2,000 tokens against a 600-token model
        response = await running.request("POST", SUMMARIZE, token=token, json={"content": content})
        assert response.status_code == 200, response.text  # not INPUT_TOKEN_LIMIT_EXCEEDED
        [prompt] = prompts(record)
        assert "cut to fit the summary model" in prompt and 100 < prompt.count("!") < 600
    finally:
        await stop_service(running)


async def test_model_failures_are_typed_errors(summary_service):
    token = await summary_service.issue_token()
    cases = [
        ({"error": {"kind": "provider", "status": 500}}, 502, "PROVIDER_ERROR"),
        ({"error": {"kind": "throttled", "retry_after": 7}}, 429, "LLM_THROTTLED"),
        ({"text": "   "}, 502, "PROVIDER_ERROR"),
    ]
    for scripted, status, code in cases:
        summary_service.script.write_text(json.dumps({"mode": "repeat", "responses": [scripted]}))
        response = await summary_service.request("POST", SUMMARIZE, token=token, json={"content": "page text"})
        assert (response.status_code, response.json()["error"]["message"]) == (status, code), response.text


async def test_summaries_are_rate_limited_per_user(database_url, redis_url, tmp_path):
    script, record = tmp_path / "script.json", tmp_path / "record.jsonl"
    script.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "ok"}]}))
    settings = summary_settings(database_url, redis_url, script, record, **{"extension.url_summaries_per_minute": 2})
    running = await start_service(settings)
    try:
        token = await running.issue_token()
        other = await running.issue_token("bob@example.com", "core")
        if time.time() % 60 > 50:  # the limit is a one-minute window: keep the three calls inside one
            await asyncio.sleep(60 - time.time() % 60 + 0.1)
        statuses = [
            (await running.request("POST", SUMMARIZE, token=token, json={"content": "x"})).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = await running.request("POST", SUMMARIZE, token=token, json={"content": "x"})
        assert limited.json()["error"]["message"] == "RATE_LIMITED" and int(limited.headers["Retry-After"]) >= 1
        assert len(prompts(record)) == 2  # refused calls never reach the model
        assert (await running.request("POST", SUMMARIZE, token=other, json={"content": "x"})).status_code == 200
    finally:
        await stop_service(running)


async def test_without_a_usable_model_summaries_answer_model_unavailable(service):
    token = await service.issue_token()
    assert service.app.ctx.helper.helper_model() is None  # no provider keys; the local model is never a helper
    response = await service.request("POST", SUMMARIZE, token=token, json={"content": "some page"})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["message"] == "MODEL_UNAVAILABLE" and response.json()["status_code"] == 503
