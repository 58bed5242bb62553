"""The web search clients against loopback fakes of SearXNG and the Brave Search API, in their JSON formats."""

from __future__ import annotations

import socket
import time

import pytest

from app.integrations.websearch import (
    BraveClient,
    SearxngClient,
    WebHit,
    WebSearchFailed,
    brave_query,
    web_search_client,
)
from app.runtime.settings import WebSearchSettings
from tests.fakes.websearch_server import FakeBrave, FakeSearxng, Page

PAGES = [
    Page("Retry &amp; backoff in <b>httpx</b>", "https://example.org/httpx-retries", "Use a transport with retries."),
    Page("Tenacity", "https://tenacity.readthedocs.io/", "Retrying library for Python."),
    Page("A script", "javascript:alert(1)", "not a web page"),
    Page("Duplicate", "https://example.org/httpx-retries", "the same address again"),
    Page("Third", "https://example.com/3", "third"),
]


def settings(**values) -> WebSearchSettings:
    base = {
        "provider": "none",
        "url": "",
        "api_key": "",
        "timeout_s": 5.0,
        "max_results": 8,
        "summarize": False,
        "summary_timeout_s": 5.0,
    }
    return WebSearchSettings(**(base | values))


async def search(client, query: str = "q", *, limit: int = 3) -> list[WebHit]:
    async with client:
        return await client.search(query, limit=limit)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_searxng_forwards_the_query_as_json_search_and_maps_the_results():
    with FakeSearxng(pages=PAGES) as fake:
        hits = await search(SearxngClient(fake.base_url + "/", timeout_s=5), "how to retry httpx requests?")
    assert len(fake.requests) == 1
    seen = fake.requests[0]
    assert seen.path == "/search" and seen.params["q"] == "how to retry httpx requests?"
    assert seen.params["format"] == "json"
    # Markup and entities are gone, unsafe and repeated addresses are dropped, the limit holds.
    assert hits == [
        WebHit("Retry & backoff in httpx", "https://example.org/httpx-retries", "Use a transport with retries."),
        WebHit("Tenacity", "https://tenacity.readthedocs.io/", "Retrying library for Python."),
        WebHit("Third", "https://example.com/3", "third"),
    ]


async def test_searxng_without_the_json_format_says_how_to_enable_it():
    with FakeSearxng(pages=PAGES) as fake:
        fake.json_enabled = False
        with pytest.raises(WebSearchFailed, match=r"HTTP 403: .*search.formats"):
            await search(SearxngClient(fake.base_url, timeout_s=5))


async def test_searxng_server_errors_and_non_json_bodies_are_typed_failures():
    with (
        FakeSearxng(pages=PAGES, status=502) as fake,
        pytest.raises(WebSearchFailed, match=r"^searxng answered HTTP 502$"),
    ):
        await search(SearxngClient(fake.base_url, timeout_s=5))
    # A proxy answering an HTML error page at the JSON address.
    with FakeSearxng(pages=PAGES) as fake, pytest.raises(WebSearchFailed, match="HTTP 404"):
        await search(SearxngClient(fake.base_url + "/not-searxng", timeout_s=5))


async def test_a_silent_provider_fails_within_the_timeout():
    with FakeSearxng(pages=PAGES, delay_s=3) as fake:
        started = time.monotonic()
        with pytest.raises(WebSearchFailed, match=r"did not answer within 0\.3 s"):
            await search(SearxngClient(fake.base_url, timeout_s=0.3))
        assert time.monotonic() - started < 1.5


async def test_an_unreachable_provider_fails_without_quoting_the_configured_url():
    url = f"http://admin:hunter2-password@127.0.0.1:{closed_port()}"
    with pytest.raises(WebSearchFailed) as caught:
        await search(SearxngClient(url, timeout_s=2))
    assert "could not be reached" in str(caught.value) and "hunter2" not in str(caught.value)


async def test_brave_sends_the_subscription_token_and_maps_web_results():
    pages = [
        Page("<strong>httpx</strong> retries", "https://example.org/a", "Use <strong>retries</strong> &amp; backoff")
    ]
    pages += [Page(f"Result {n}", f"https://example.org/{n}", f"text {n}") for n in range(10)]
    with FakeBrave(pages=pages) as fake:
        client = BraveClient(fake.token, timeout_s=5, endpoint=fake.base_url + "/res/v1/web/search")
        hits = await search(client, "httpx retries", limit=4)
    seen = fake.requests[0]
    assert seen.headers["x-subscription-token"] == fake.token
    assert seen.headers["accept"] == "application/json" and "gzip" in seen.headers["accept-encoding"]
    assert seen.params["q"] == "httpx retries" and seen.params["count"] == "4"
    assert [h.url for h in hits] == [
        "https://example.org/a",
        "https://example.org/0",
        "https://example.org/1",
        "https://example.org/2",
    ]
    assert hits[0].title == "httpx retries" and hits[0].snippet == "Use retries & backoff"


async def test_brave_refusing_the_token_is_a_failure_that_never_repeats_the_token():
    with FakeBrave(pages=PAGES) as fake:
        client = BraveClient("BSA-wrong-secret-value", timeout_s=5, endpoint=fake.base_url + "/res/v1/web/search")
        with pytest.raises(WebSearchFailed) as caught:
            await search(client)
    assert "HTTP 422" in str(caught.value) and "refused" in str(caught.value)
    assert "BSA-wrong-secret-value" not in str(caught.value)


async def test_brave_rate_limits_carry_brave_s_error_code():
    with FakeBrave(pages=PAGES, status=429) as fake:
        client = BraveClient(fake.token, timeout_s=5, endpoint=fake.base_url + "/res/v1/web/search")
        with pytest.raises(WebSearchFailed, match="HTTP 429: RATE_LIMITED - Request rate limit exceeded"):
            await search(client)


def test_brave_queries_are_cut_to_its_limits_at_word_boundaries():
    long = " ".join(f"word{n}" for n in range(80))
    assert len(brave_query(long).split()) == 50
    wide = " ".join(["x" * 30] * 20)
    cut = brave_query(wide)
    assert len(cut) <= 400 and cut.endswith("x" * 30)


def test_the_configured_provider_chooses_the_client():
    assert web_search_client(settings()) is None
    searxng = web_search_client(settings(provider="searxng", url="http://search.internal:8080"))
    assert isinstance(searxng, SearxngClient) and searxng.endpoint == "http://search.internal:8080/search"
    brave = web_search_client(settings(provider="brave", api_key="BSA-key"))
    assert isinstance(brave, BraveClient) and brave.endpoint == "https://api.search.brave.com/res/v1/web/search"
    with pytest.raises(ValueError, match="needs url"):
        settings(provider="searxng")
    with pytest.raises(ValueError, match="needs api_key"):
        settings(provider="brave")
