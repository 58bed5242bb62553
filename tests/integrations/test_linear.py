"""The Linear client against a loopback Linear GraphQL API: issues, search pages, create and comment, GraphQL
errors mapped to our typed errors, Linear's rate-limit signals shared through Redis."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.linear import LinearClient, acceptance_criteria
from app.integrations.runtime import IntegrationRuntime
from tests.fakes.linear_server import FORBIDDEN_ERROR, INTERNAL_ERROR, FakeLinear, ratelimited_error
from tests.integrations.conftest import connection, integration_settings

KEY = "lin_api_s3cr3tKEYdoNotLeak0123456789"

DESCRIPTION = """Checkout fails for carts over 100 items.

## Acceptance criteria
- [ ] carts of 500 items check out
- [x] the error names the item that failed
* totals stay exact

## Notes
Seen since 4.2.
"""


@pytest.fixture
def fake():
    with FakeLinear(api_key=KEY, oauth_token="oauth-tok") as server:
        yield server


def linear(fake: FakeLinear, runtime: IntegrationRuntime, **options) -> LinearClient:
    return LinearClient(connection("linear", fake.url, {"token": KEY}, **options), runtime)


def second_worker(runtime: IntegrationRuntime) -> IntegrationRuntime:
    """Another process of the same deployment: its own limiters, the same Redis."""
    return IntegrationRuntime(integration_settings(), redis=runtime.redis, key_prefix=runtime.key_prefix)


async def test_identity_sends_the_key_bare_and_says_linear_reports_no_scopes(fake, runtime):
    client = linear(fake, runtime)
    identity = await client.identity()
    await client.aclose()
    assert identity.login == "ada@acme.dev" and identity.name == "ada"
    assert identity.scopes == []
    assert "Acme (acme)" in identity.detail and "does not report the scopes of an API key" in identity.detail
    (request,) = fake.seen("POST", "/graphql")
    assert request.headers["authorization"] == KEY  # no "Bearer" for a personal API key
    assert fake.operations() == ["Viewer"]


async def test_an_oauth_connection_sends_a_bearer_token(fake, runtime):
    client = LinearClient(connection("linear", fake.url, {"token": "oauth-tok"}, oauth=True), runtime)
    identity = await client.identity()
    await client.aclose()
    assert fake.requests[0].headers["authorization"] == "Bearer oauth-tok"
    assert "OAuth token" in identity.detail


async def test_get_issue_maps_every_field_bounds_comments_and_reads_relations_both_ways(fake, runtime):
    issue = fake.add_issue(
        "Checkout fails on big carts",
        description=DESCRIPTION,
        priority=2,
        state="In Progress",
        assignee="Grace Hopper",
        labels=("bug", "backend"),
    )
    blocker = fake.add_issue("Cart service timeouts")
    duplicate = fake.add_issue("Big carts broken")
    fake.relate(blocker["identifier"], "blocks", issue["identifier"])
    fake.relate(issue["identifier"], "duplicate", duplicate["identifier"])
    fake.add_comment("ENG-1", "Reproduced on staging", at="2024-05-02T09:00:00.000Z")
    fake.add_comment("ENG-1", "First look", at="2024-05-01T11:00:00.000Z")
    fake.add_comment("ENG-1", "Third comment", at="2024-05-03T09:00:00.000Z")

    client = linear(fake, runtime)
    got = await client.get_issue(" eng-1 ", max_comments=2)
    await client.aclose()

    assert got.key == "ENG-1" and got.title == "Checkout fails on big carts"
    assert got.status == "In Progress" and got.priority == "High"
    assert got.assignee == "grace" and got.reporter == "ada"
    assert got.labels == ["bug", "backend"]
    assert got.description == DESCRIPTION
    assert got.acceptance_criteria == [
        "carts of 500 items check out",
        "the error names the item that failed",
        "totals stay exact",
    ]
    # At most two comments were asked for, and they come oldest first.
    assert [c.body for c in got.comments] == ["First look", "Reproduced on staging"]
    assert got.comments[0].author == "grace" and got.comments[0].url.startswith(issue["url"] + "#comment-")
    assert {(link.relation, link.key) for link in got.links} == {("is blocked by", "ENG-2"), ("duplicates", "ENG-3")}
    assert got.url == issue["url"]
    sent = fake.seen("POST", "/graphql")[0].json()
    assert sent["variables"] == {"id": "ENG-1", "comments": 2}


async def test_get_issue_of_an_unknown_key_is_not_found_and_a_malformed_key_is_never_sent(fake, runtime):
    client = linear(fake, runtime)
    with pytest.raises(IntegrationNotFound, match="no issue ENG-404"):
        await client.get_issue("ENG-404")
    with pytest.raises(IntegrationRejected, match="not a Linear issue identifier"):
        await client.get_issue('ENG-1") { id } viewer { email')
    await client.aclose()
    assert fake.operations() == ["Issue"]


async def test_search_follows_cursors_within_a_call_and_across_calls(fake, runtime):
    for n in range(5):
        fake.add_issue(f"Payment retry bug {n}")
    fake.add_issue("Unrelated dashboard work")
    client = linear(fake, runtime)
    client.page_size = 2

    first = await client.search("payment", limit=3)
    assert [i.key for i in first.issues] == ["ENG-1", "ENG-2", "ENG-3"]
    assert first.total == 5 and first.next_cursor is not None
    # Two pages made the three: 2 + 1, the second starting after the first's end cursor.
    sent = [r.json()["variables"] for r in fake.seen("POST", "/graphql")]
    assert [(v["first"], v["after"] is None) for v in sent] == [(2, True), (1, False)]

    rest = await client.search("payment", limit=10, cursor=first.next_cursor)
    await client.aclose()
    assert [i.key for i in rest.issues] == ["ENG-4", "ENG-5"]
    assert rest.next_cursor is None
    assert all(i.comments == [] for i in first.issues + rest.issues)


async def test_search_refuses_empty_text_without_a_call(fake, runtime):
    client = linear(fake, runtime)
    with pytest.raises(IntegrationRejected):
        await client.search("   ")
    await client.aclose()
    assert fake.requests == []


async def test_create_issue_resolves_the_team_and_labels_then_creates(fake, runtime):
    client = linear(fake, runtime)
    created = await client.create_issue("eng", "Flaky login test", "It fails 1 in 20 runs.", ["bug", "backend"])
    await client.aclose()
    assert created.key == "ENG-1" and created.title == "Flaky login test"
    assert created.labels == ["bug", "backend"] and created.url.startswith("https://linear.app/acme/issue/eng-1")
    assert fake.operations() == ["TeamByKey", "LabelsByName", "IssueCreate"]
    sent = fake.seen("POST", "/graphql")[-1].json()["variables"]["input"]
    labels = {label["name"]: label["id"] for label in fake.labels}
    assert sent == {
        "teamId": fake.teams[0]["id"],
        "title": "Flaky login test",
        "description": "It fails 1 in 20 runs.",
        "labelIds": [labels["bug"], labels["backend"]],
    }


async def test_create_issue_with_an_unknown_or_foreign_label_or_team_creates_nothing(fake, runtime):
    client = linear(fake, runtime)
    # "infra" exists, but only in the OPS team.
    with pytest.raises(IntegrationRejected, match="no label infra for team ENG"):
        await client.create_issue("ENG", "Title", labels=["bug", "infra"])
    with pytest.raises(IntegrationNotFound, match="no team NOPE"):
        await client.create_issue("NOPE", "Title")
    with pytest.raises(IntegrationRejected):
        await client.create_issue("ENG", "   ")
    await client.aclose()
    assert "IssueCreate" not in fake.operations() and fake.issues == {}


async def test_comment_adds_markdown_to_the_issue(fake, runtime):
    fake.add_issue("Checkout fails")
    client = linear(fake, runtime)
    comment = await client.comment("ENG-1", "Fixed in **#412**")
    with pytest.raises(IntegrationNotFound):
        await client.comment("ENG-9", "nobody home")
    await client.aclose()
    assert comment.body == "Fixed in **#412**" and comment.author == "ada"
    stored = fake.issues["ENG-1"]["comments"]["nodes"][-1]
    assert stored["body"] == "Fixed in **#412**" and (comment.id, comment.url) == (stored["id"], stored["url"])
    assert fake.operations() == ["IssueRef", "CommentCreate", "IssueRef"]


async def test_graphql_errors_map_to_typed_errors_whatever_the_http_status(fake, runtime):
    client = linear(fake, runtime)
    fake.fail_operation("Viewer", [FORBIDDEN_ERROR], status=200)
    with pytest.raises(IntegrationAuthFailed, match="denied access"):
        await client.identity()
    fake.fail_operation(
        "Viewer",
        [{"message": 'Cannot query field "x"', "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}],
        status=400,
    )
    with pytest.raises(IntegrationRejected, match='Cannot query field "x"'):
        await client.identity()
    fake.fail_operation("Viewer", [INTERNAL_ERROR], status=200)
    with pytest.raises(IntegrationUnavailable):
        await client.identity()
    fake.fail_next(401, body={"errors": [{"message": "Unauthorized"}]})
    with pytest.raises(IntegrationAuthFailed):
        await client.identity()
    await client.aclose()


async def test_a_refused_key_is_auth_failed_and_never_appears_in_errors_or_logs(fake, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    client = LinearClient(connection("linear", fake.url, {"token": "lin_api_WRONGsecretWRONG"}), runtime)
    with pytest.raises(IntegrationAuthFailed) as raised:
        await client.identity()
    await client.aclose()
    assert "authenticate" in str(raised.value)
    assert "lin_api_WRONGsecretWRONG" not in str(raised.value) + repr(raised.value)
    assert "lin_api_WRONGsecretWRONG" not in caplog.text
    assert len(fake.requests) == 1  # a refused key is not retried


async def test_ratelimited_pauses_until_the_reset_then_retries(fake, runtime):
    fake.add_issue("Anything")
    fake.fail_operation("Issue", [ratelimited_error()], status=400, headers=fake.spent_headers(0.5))
    client = linear(fake, runtime)
    started = time.monotonic()
    issue = await client.get_issue("ENG-1")
    elapsed = time.monotonic() - started
    await client.aclose()
    assert issue.key == "ENG-1"
    assert fake.operations() == ["Issue", "Issue"]
    assert 0.4 <= elapsed < 1.4


async def test_a_long_ratelimit_fails_fast_here_and_in_another_worker_without_calling(fake, runtime):
    conn = connection("linear", fake.url, {"token": KEY})
    fake.fail_operation("IssueCreate", [ratelimited_error()], status=400, headers=fake.spent_headers(30))
    client = LinearClient(conn, runtime)
    with pytest.raises(IntegrationRateLimited) as raised:
        await client.create_issue("ENG", "Title")
    await client.aclose()
    assert 25 < raised.value.retry_after <= 30
    calls = len(fake.requests)

    other = second_worker(runtime)
    try:
        late = LinearClient(conn, other)
        started = time.monotonic()
        with pytest.raises(IntegrationRateLimited) as again:
            await late.identity()
        await late.aclose()
    finally:
        other.close()
    assert time.monotonic() - started < 0.5 and again.value.retry_after > 25
    assert len(fake.requests) == calls  # the pause came from Redis: nothing was sent
    assert fake.issues == {}


async def test_a_spent_request_budget_on_success_delays_the_next_call(fake, runtime):
    client = linear(fake, runtime)
    fake.requests_remaining = 1  # this call spends the last request of the budget
    fake.reset_in_s = 0.5
    await client.identity()
    fake.requests_remaining, fake.reset_in_s = 1500, 3600
    started = time.monotonic()
    await client.identity()
    await client.aclose()
    assert time.monotonic() - started >= 0.4


async def test_queries_are_retried_on_5xx_but_a_mutation_that_reached_linear_is_not(fake, runtime):
    client = linear(fake, runtime)
    fake.fail_next(502, count=1)
    assert (await client.identity()).login == "ada@acme.dev"
    assert fake.operations() == ["Viewer", "Viewer"]

    fake.add_issue("Checkout fails")
    fake.fail_operation("CommentCreate", [INTERNAL_ERROR], status=503)
    with pytest.raises(IntegrationUnavailable):
        await client.comment("ENG-1", "once only")
    await client.aclose()
    assert fake.operations().count("CommentCreate") == 1
    assert fake.issues["ENG-1"]["comments"]["nodes"] == []


async def test_an_unreachable_linear_is_unavailable(runtime):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = LinearClient(connection("linear", f"http://127.0.0.1:{port}", {"token": KEY}), runtime)
    with pytest.raises(IntegrationUnavailable, match="could not be reached") as raised:
        await client.identity()
    await client.aclose()
    assert KEY not in str(raised.value)


def test_acceptance_criteria_stop_at_the_next_heading_and_accept_a_bold_title():
    assert acceptance_criteria("**Acceptance criteria:**\n1. one\n2) two\n\n# Next\n- not this") == ["one", "two"]
    assert acceptance_criteria("No criteria here\n- a list item") == []
