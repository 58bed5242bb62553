"""POST /end_user/v1/websearch: always a readable 200 for a valid request, whatever the provider did; the
provider is the operator's choice and its key never leaves the server."""

from __future__ import annotations

import logging
import time

import pytest

from app.db.models import Session, User
from app.db.repositories.identity import get_or_create_team
from tests.api.scripted_models import scripted_settings, unusable_models_settings
from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.websearch_server import FakeBrave, FakeSearxng, Page

ROUTE = "/end_user/v1/websearch"
PAGES = [
    Page(
        "httpx retries",
        "https://www.python-httpx.org/advanced/transports/",
        "HTTPTransport(retries=3) retries connects.",
    ),
    Page("Tenacity", "https://tenacity.readthedocs.io/", "General-purpose retrying library."),
    Page("Backoff", "https://pypi.org/project/backoff/", "Function decoration for backoff and retry."),
]
BRAVE_KEY = "BSA-super-secret-subscription-token"


@pytest.fixture
def searxng():
    with FakeSearxng(pages=list(PAGES)) as fake:
        yield fake


@pytest.fixture
def brave():
    with FakeBrave(pages=list(PAGES)) as fake:
        fake.token = BRAVE_KEY
        yield fake


async def running(settings):
    service = await start_service(settings)
    return service, await service.issue_token()


def data_of(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_success"] is True and body["status_code"] == 200
    return body["data"]


async def test_without_a_provider_the_model_reads_that_search_is_not_configured(service):
    token = await service.issue_token()
    data = data_of(await service.request("POST", ROUTE, token=token, json={"descriptive_query": "latest httpx"}))
    assert data["configured"] is False and data["provider"] == "none"
    assert data["sources"] == [] and data["answer"] is None
    assert "not configured on this server" in data["error"]
    # The reference client calls the route with a trailing slash too.
    assert data_of(await service.request("POST", ROUTE + "/", token=token, json={"descriptive_query": "x"}))


async def test_searxng_results_come_back_as_sources_with_an_answer_written_from_them(
    database_url, redis_url, tmp_path, searxng
):
    settings, _, helper = scripted_settings(
        database_url,
        redis_url,
        tmp_path,
        **{"websearch.provider": "searxng", "websearch.url": searxng.base_url, "websearch.max_results": 2},
    )
    helper.play({"text": "Use HTTPTransport(retries=3) [1], or Tenacity for more control [2]."})
    service, token = await running(settings)
    try:
        data = data_of(
            await service.request("POST", ROUTE, token=token, json={"descriptive_query": "  retry   httpx requests "})
        )
    finally:
        await stop_service(service)
    assert searxng.requests[0].params["q"] == "retry httpx requests"
    assert data["configured"] is True and data["provider"] == "searxng" and data["error"] is None
    assert data["sources"] == [{"title": p.title, "url": p.url, "snippet": p.text} for p in PAGES[:2]], (
        "mapped in order, cut to websearch.max_results"
    )
    assert data["answer"] == "Use HTTPTransport(retries=3) [1], or Tenacity for more control [2]."
    (call,) = helper.calls()
    prompt = call["messages"][0]["parts"][0]["text"]
    assert "[1] httpx retries" in prompt and "[2] Tenacity" in prompt and "Backoff" not in prompt
    assert call["tools"] == []


async def test_brave_gets_the_key_in_its_header_and_the_key_never_reaches_responses_or_logs(
    database_url, redis_url, tmp_path, brave, caplog
):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "websearch.provider": "brave",
            "websearch.url": brave.base_url + "/res/v1/web/search",
            "websearch.api_key": BRAVE_KEY,
        },
    )
    caplog.set_level(logging.INFO)
    service, token = await running(settings)
    try:
        found = await service.request("POST", ROUTE, token=token, json={"descriptive_query": "httpx retries"})
        brave.token = "BSA-rotated-elsewhere"  # our key is now refused upstream
        refused = await service.request("POST", ROUTE, token=token, json={"descriptive_query": "httpx retries"})
        brave.token, brave.status = BRAVE_KEY, 503
        broken = await service.request("POST", ROUTE, token=token, json={"descriptive_query": "httpx retries"})
    finally:
        await stop_service(service)
    assert brave.requests[0].headers["x-subscription-token"] == BRAVE_KEY
    assert brave.requests[0].params["q"] == "httpx retries" and brave.requests[0].params["count"] == "8"
    assert [s["url"] for s in data_of(found)["sources"]] == [p.url for p in PAGES]
    assert data_of(found)["answer"] is None, "no helper model here: the sources stand alone"
    refused_data, broken_data = data_of(refused), data_of(broken)
    assert refused_data["sources"] == [] and "HTTP 422" in refused_data["error"]
    assert broken_data["sources"] == [] and "HTTP 503" in broken_data["error"]
    for response in (found, refused, broken):
        assert BRAVE_KEY not in response.text and BRAVE_KEY not in str(response.headers)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "web search failed" in logged and "HTTP 422" in logged
    assert BRAVE_KEY not in logged


async def test_a_slow_provider_is_a_readable_200_within_the_timeout(database_url, redis_url, searxng):
    searxng.delay_s = 5
    settings = make_settings(
        database_url,
        redis_url,
        **{"websearch.provider": "searxng", "websearch.url": searxng.base_url, "websearch.timeout_s": 0.5},
    )
    service, token = await running(settings)
    try:
        started = time.monotonic()
        data = data_of(await service.request("POST", ROUTE, token=token, json={"descriptive_query": "q"}))
        elapsed = time.monotonic() - started
    finally:
        await stop_service(service)
    assert elapsed < 2.5
    assert data["configured"] is True and data["sources"] == [] and "did not answer within 0.5 s" in data["error"]


async def test_a_failing_helper_model_leaves_the_sources(database_url, redis_url, tmp_path, searxng):
    settings, _, helper = scripted_settings(
        database_url, redis_url, tmp_path, **{"websearch.provider": "searxng", "websearch.url": searxng.base_url}
    )
    helper.play({"error": {"kind": "provider", "status": 500}}, mode="repeat")
    service, token = await running(settings)
    try:
        data = data_of(await service.request("POST", ROUTE, token=token, json={"descriptive_query": "q"}))
    finally:
        await stop_service(service)
    assert data["answer"] is None and len(data["sources"]) == 3 and data["error"] is None


@pytest.mark.parametrize(
    "body", [{}, {"descriptive_query": ""}, {"descriptive_query": "   "}, {"descriptive_query": "x" * 2001}, {"q": "a"}]
)
async def test_bad_bodies_are_422_and_never_reach_the_provider(database_url, redis_url, searxng, body):
    settings = make_settings(
        database_url, redis_url, **{"websearch.provider": "searxng", "websearch.url": searxng.base_url}
    )
    service, token = await running(settings)
    try:
        response = await service.request("POST", ROUTE, token=token, json=body)
    finally:
        await stop_service(service)
    assert response.status_code == 422 and response.json()["error"]["message"] == "INVALID_REQUEST"
    assert searxng.requests == []


async def test_a_named_session_must_be_the_caller_s(database_url, redis_url, searxng):
    settings = unusable_models_settings(
        database_url, redis_url, **{"websearch.provider": "searxng", "websearch.url": searxng.base_url}
    )
    service, token = await running(settings)
    try:
        team = await get_or_create_team("elsewhere")
        stranger = await User.create(email="eve@example.com", name="Eve")
        foreign = await Session.create(
            team_id=team.id, user_id=stranger.id, session_type="VSCODE_EXT_SESSION", summary=""
        )
        refused = await service.request(
            "POST", ROUTE, token=token, headers={"X-Session-ID": str(foreign.id)}, json={"descriptive_query": "q"}
        )
        unknown = await service.request(
            "POST", ROUTE, token=token, headers={"X-Session-ID": "987654"}, json={"descriptive_query": "q"}
        )
        unauthenticated = await service.request("POST", ROUTE, json={"descriptive_query": "q"})
    finally:
        await stop_service(service)
    assert refused.status_code == 404 and refused.json()["error"]["message"] == "SESSION_NOT_FOUND"
    assert unknown.json() == refused.json(), "foreign and unknown sessions answer alike"
    assert unauthenticated.status_code == 400 and unauthenticated.json()["error"]["message"] == "NOT_VERIFIED"
    assert searxng.requests == []
