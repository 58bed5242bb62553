"""The one call path of the httpx clients: retries, rate-limit pauses shared through Redis, typed errors,
conditional GETs and same-origin pagination, against a loopback service."""

from __future__ import annotations

import time

import httpx
import pytest

from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.http import retry_after_seconds
from app.integrations.runtime import IntegrationRuntime, static_headers
from tests.fakes.http_fake import FakeRequest, FakeService
from tests.integrations.conftest import connection

SECRET = "tok_live_do_not_print"


class Items(FakeService):
    """Three pages of items linked by `Link: rel="next"`, an ETag'd resource, and a page linking elsewhere."""

    def routes(self) -> None:
        self.route("GET", "/items", self.items)
        self.route("GET", "/thing", self.thing)
        self.route("POST", "/things", lambda r: (201, {"id": 1}, {}))
        self.route("GET", "/elsewhere", lambda r: (200, [1], {"Link": '<http://example.com/steal>; rel="next"'}))

    def items(self, request: FakeRequest) -> tuple[int, object, dict[str, str]]:
        page = int(request.param("page", "1") or 1)
        headers = {"Link": f'<{self.url}/items?page={page + 1}>; rel="next"'} if page < 3 else {}
        return 200, [f"item-{page}-{i}" for i in range(2)], headers

    def thing(self, request: FakeRequest) -> tuple[int, object, dict[str, str]]:
        if request.headers.get("if-none-match") == '"v1"':
            return 304, None, {"ETag": '"v1"'}
        return 200, {"name": "thing"}, {"ETag": '"v1"'}


@pytest.fixture
def fake():
    with Items() as running:
        yield running


def http_for(runtime: IntegrationRuntime, fake: Items, connection_id: int | None = None, **kwargs):
    info = connection("github", fake.url, {"token": SECRET})
    if connection_id is not None:
        info = type(info)(**{**info.__dict__, "id": connection_id})
    return runtime.http(info, auth=static_headers({"Authorization": f"Bearer {SECRET}"}), **kwargs)


async def test_pages_are_followed_by_link_header_up_to_the_limit(runtime, fake):
    http = http_for(runtime, fake)
    items = [item async for item in http.paginate("/items", limit=5)]
    assert items == ["item-1-0", "item-1-1", "item-2-0", "item-2-1", "item-3-0"]
    assert len(fake.seen("GET", "/items")) == 3
    everything = [item async for item in http.paginate("/items", limit=100)]
    assert len(everything) == 6 and len(fake.seen("GET", "/items")) == 6  # the last page has no next link
    await http.aclose()


async def test_a_next_link_to_another_host_is_refused(runtime, fake):
    http = http_for(runtime, fake)
    with pytest.raises(IntegrationUnavailable, match="another host"):
        _ = [item async for item in http.paginate("/elsewhere", limit=10)]
    await http.aclose()


async def test_5xx_is_retried_then_succeeds_but_a_post_that_reached_the_server_is_not_sent_again(runtime, fake):
    http = http_for(runtime, fake)
    fake.fail_next(503, count=2, path="/thing")
    assert (await http.get_json("/thing")) == {"name": "thing"}
    assert len(fake.seen("GET", "/thing")) == 3
    fake.fail_next(500, path="/things")
    with pytest.raises(IntegrationUnavailable):
        await http.request("POST", "/things", json_body={"a": 1})
    assert len(fake.seen("POST", "/things")) == 1, "a POST the server received may have taken effect"
    await http.aclose()


async def test_a_refused_connection_is_retried_and_reported_as_unavailable(runtime):
    info = connection("github", "http://127.0.0.1:9", {"token": SECRET})  # nothing listens on port 9
    http = runtime.http(info, auth=static_headers({}))
    started = time.monotonic()
    with pytest.raises(IntegrationUnavailable, match="could not be reached") as caught:
        await http.request("POST", "/things")
    assert time.monotonic() - started < 2 and SECRET not in str(caught.value)
    await http.aclose()


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, IntegrationAuthFailed), (403, IntegrationAuthFailed), (404, IntegrationNotFound),
     (422, IntegrationRejected), (502, IntegrationUnavailable)],
)  # fmt: skip
async def test_statuses_become_typed_errors_with_the_services_message(runtime, fake, status, error):
    http = http_for(runtime, fake)
    fake.fail_next(status, count=5, body={"message": "Bad credentials"})
    with pytest.raises(error) as caught:
        await http.get_json("/thing")
    assert "Bad credentials" in caught.value.detail and SECRET not in caught.value.detail
    await http.aclose()


async def test_retry_after_pauses_every_client_of_the_connection_through_redis(runtime, redis_url, fake):
    import redis.asyncio as aioredis

    from tests.integrations.conftest import integration_settings

    first = http_for(runtime, fake, connection_id=77)
    fake.fail_next(429, headers={"Retry-After": "1"}, path="/thing")
    started = time.monotonic()
    assert await first.get_json("/thing") == {"name": "thing"}  # waited the second out, then succeeded
    assert time.monotonic() - started >= 0.9
    # Another worker (its own runtime, same Redis) learns of a long pause and fails fast instead of waiting.
    fake.fail_next(429, headers={"Retry-After": "30"}, path="/thing")
    with pytest.raises(IntegrationRateLimited) as caught:
        await first.get_json("/thing")
    assert 29 <= caught.value.retry_after <= 30
    other_redis = aioredis.Redis.from_url(redis_url)
    other = IntegrationRuntime(integration_settings(), redis=other_redis, key_prefix="test:")
    second = http_for(other, fake, connection_id=77)
    calls_before = len(fake.requests)
    with pytest.raises(IntegrationRateLimited):
        await second.get_json("/thing")
    assert len(fake.requests) == calls_before, "the paused connection sent nothing"
    unrelated = http_for(other, fake, connection_id=78)
    assert await unrelated.get_json("/thing") == {"name": "thing"}, "another connection is not paused"
    for client in (first, second, unrelated):
        await client.aclose()
    other.close()
    await other_redis.aclose()


async def test_an_exhausted_budget_pauses_the_next_call_until_the_reset(runtime, fake):
    http = http_for(runtime, fake)
    reset = int(time.time()) + 60
    fake.fail_next(200, body={"name": "last"}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    assert await http.get_json("/thing") == {"name": "last"}
    with pytest.raises(IntegrationRateLimited):
        await http.get_json("/thing")
    await http.aclose()


async def test_conditional_gets_answer_from_the_cache_on_304(runtime, fake):
    http = http_for(runtime, fake, conditional_gets=True)
    assert await http.get_json("/thing", conditional=True) == {"name": "thing"}
    assert await http.get_json("/thing", conditional=True) == {"name": "thing"}
    sent = fake.seen("GET", "/thing")
    assert "if-none-match" not in sent[0].headers and sent[1].headers["if-none-match"] == '"v1"'
    await http.aclose()


def test_retry_after_reads_seconds_dates_and_reset_headers():
    now = 1_700_000_000.0

    def response(**headers: str) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after_seconds(response(**{"retry-after": "7"}), now=now) == 7
    assert retry_after_seconds(response(**{"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}), now=now) == 10
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 42)}
    assert retry_after_seconds(response(**reset), now=now) == 42
    assert retry_after_seconds(response(**{"x-ratelimit-remaining": "5", "x-ratelimit-reset": "9"}), now=now) is None
    assert retry_after_seconds(response(**{"ratelimit-remaining": "0", "ratelimit-reset": "12"}), now=now) == 12
