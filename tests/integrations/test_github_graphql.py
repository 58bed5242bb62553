"""GitHub's GraphQL API for review threads, against the loopback GitHub: where it lives, paging through the
threads of a pull request, resolving one, and GitHub's GraphQL errors as typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRateLimited
from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.github_graphql import graphql_url
from app.integrations.runtime import IntegrationRuntime
from tests.fakes.github_data import FakePull
from tests.fakes.github_server import FakeGitHub
from tests.integrations.conftest import connection

REPO = "acme/widgets"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        pull = FakePull(3, "Threads", "topic", "a" * 40)
        for number in range(130):  # more than one page of threads; every other thread has a reply
            pull.review_comments.append({"id": 9000 + number, "path": "a.py", "line": 1, "body": "x"})
            if number % 2:
                pull.review_comments.append({"id": 19000 + number, "in_reply_to_id": 9000 + number, "body": "y"})
        fake.add_repo(REPO).pulls[3] = pull
        yield fake


def pat(fake: FakeGitHub) -> ConnectionInfo:
    return connection("github", fake.url, {"token": fake.token or ""})


def test_graphql_lives_beside_the_rest_api():
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://api.acme.ghe.com") == "https://api.acme.ghe.com/graphql"
    assert graphql_url("https://git.acme.test/api/v3") == "https://git.acme.test/api/graphql"


async def test_threads_are_mapped_across_pages_and_one_is_resolved(github: FakeGitHub, runtime: IntegrationRuntime):
    async with GitHubClient(pat(github), runtime) as client:
        threads = await client.review_threads(REPO, 3)
        assert sorted(threads) == [9000 + n for n in range(130)]  # replies start no thread
        assert not any(t.resolved for t in threads.values())
        assert await client.resolve_review_thread(threads[9042].id) is True
        assert (await client.review_threads(REPO, 3))[9042].resolved
        with pytest.raises(IntegrationNotFound):
            await client.resolve_review_thread("PRRT_kwDOnothing")
        with pytest.raises(IntegrationNotFound):
            await client.review_threads(REPO, 99)
    assert github.repos[REPO].pulls[3].resolved_threads == {9042}
    calls = github.seen("POST", "/api/graphql")
    assert all(c.headers["authorization"] == f"Bearer {github.token}" for c in calls)


@pytest.mark.parametrize("refusal", ["scopes", "forbidden"])
async def test_a_refused_token_is_an_auth_failure(github: FakeGitHub, runtime: IntegrationRuntime, refusal: str):
    github.graphql_refusal = refusal
    async with GitHubClient(pat(github), runtime) as client:
        with pytest.raises(IntegrationAuthFailed, match=r"INSUFFICIENT_SCOPES|FORBIDDEN"):
            await client.resolve_review_thread("PRRT_kwDOfake9000")
    assert github.repos[REPO].pulls[3].resolved_threads == set()


async def test_a_graphql_rate_limit_pauses_the_connection(github: FakeGitHub, runtime: IntegrationRuntime):
    # GitHub answers a spent GraphQL budget on HTTP 200, in errors[]; nothing else says to wait.
    error = {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}
    github.fail_next(200, body={"errors": [error]}, path="/api/graphql")
    async with GitHubClient(pat(github), runtime) as client:
        with pytest.raises(IntegrationRateLimited) as raised:
            await client.review_threads(REPO, 3)
        assert raised.value.retry_after >= 59
        limiter = runtime.limiter(client.connection)
        assert await limiter.paused_until() - limiter._clock() > 50  # every worker waits, not only this call
