"""GitHub's GraphQL API, for what REST cannot do: resolving a pull request's review threads, and `query` for
other modules' read-only queries (app.integrations.github_discussions).

It lives at `<api>/graphql` on github.com (`https://api.github.com/graphql`) and at `/api/graphql` on a GitHub
Enterprise Server, whose REST API is under `/api/v3`. Calls go through the connection's `IntegrationHttp`, so
they share its limiter, timeouts and retries. GraphQL reports most failures on HTTP 200 in `errors[]` with a
`type` (`FORBIDDEN`, `INSUFFICIENT_SCOPES`, `NOT_FOUND`, `RATE_LIMITED`, ...); each becomes the typed error it
means, so a caller can tell "this token may not" from "try again later".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.github_api import ENTERPRISE_PREFIX, SERVICE, check_bound, check_repo
from app.integrations.http import IntegrationHttp

THREADS_PAGE = 100
MAX_THREADS = 1_000
MESSAGE_CHARS = 200
RATE_PAUSE_S = 60.0

REVIEW_THREADS = """query ReviewThreads($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}"""
RESOLVE_REVIEW_THREAD = """mutation ResolveReviewThread($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}"""

_AUTH_TYPES = frozenset({"FORBIDDEN", "INSUFFICIENT_SCOPES", "SAML_FAILURE"})


@dataclass(frozen=True)
class ReviewThread:
    id: str  # the thread's node id, what resolveReviewThread takes
    resolved: bool


def graphql_url(api_url: str) -> str:
    """Where the GraphQL endpoint of the REST API at `api_url` is."""
    if api_url.endswith(ENTERPRISE_PREFIX):
        return api_url.removesuffix(ENTERPRISE_PREFIX) + "/api/graphql"
    return api_url.rstrip("/") + "/graphql"


class GitHubGraphQL:
    def __init__(self, http: IntegrationHttp, api_url: str) -> None:
        self._http = http
        self.url = graphql_url(api_url)

    async def review_threads(self, repo: str, number: int) -> dict[int, ReviewThread]:
        """The pull request's review threads by the database id of each thread's first comment (the id REST
        gives that comment)."""
        owner, name = check_repo(repo).split("/")
        check_bound(number, 10**9, "pull request number")
        threads: dict[int, ReviewThread] = {}
        after: str | None = None
        while len(threads) < MAX_THREADS:
            variables = {"owner": owner, "name": name, "number": number, "after": after}
            data = await self.query(REVIEW_THREADS, variables, what=f"the review threads of {repo}#{number}")
            pull = ((data.get("repository") or {}).get("pullRequest")) if isinstance(data, dict) else None
            if not pull:
                raise IntegrationNotFound(f"github has no pull request {repo}#{number}", service=SERVICE)
            page = pull.get("reviewThreads") or {}
            for node in page.get("nodes") or []:
                first = ((node.get("comments") or {}).get("nodes") or [{}])[0] or {}
                if isinstance(first.get("databaseId"), int) and isinstance(node.get("id"), str):
                    threads[first["databaseId"]] = ReviewThread(node["id"], bool(node.get("isResolved")))
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                break
            after = str(info["endCursor"])
        return threads

    async def resolve_review_thread(self, thread_id: str) -> bool:
        """Resolve one review thread; whether GitHub now shows it resolved."""
        if not thread_id or len(thread_id) > 200:
            raise IntegrationRejected("github: a review thread id is 1 to 200 characters", service=SERVICE)
        data = await self.query(RESOLVE_REVIEW_THREAD, {"threadId": thread_id}, what=f"thread {thread_id}")
        thread = ((data or {}).get("resolveReviewThread") or {}).get("thread") or {}
        return bool(thread.get("isResolved"))

    async def query(self, query: str, variables: dict[str, Any], *, what: str) -> Any:
        """One GraphQL operation's `data`; its `errors[]` as the typed error they mean (`what` names the
        object in the message)."""
        # A query is safe to send again after a dropped connection; a mutation only when it never left.
        is_query = query.lstrip().startswith("query")
        response = await self._http.request(
            "POST", self.url, json_body={"query": query, "variables": variables}, idempotent=is_query, ok=(400,)
        )
        try:
            body = response.json()
        except ValueError:
            raise IntegrationUnavailable("github answered GraphQL with something not JSON", service=SERVICE) from None
        if not isinstance(body, dict):
            raise IntegrationUnavailable("github answered GraphQL with something not an object", service=SERVICE)
        errors = body.get("errors") or []
        if errors:
            error = error_for(errors, response, what)
            if isinstance(error, IntegrationRateLimited):  # the whole connection waits, on every worker
                await self._http.limiter.pause(error.retry_after)
            raise error
        if response.status_code == 400:
            raise IntegrationRejected(f"github refused the GraphQL request for {what}", service=SERVICE)
        return body.get("data") or {}


def error_for(errors: list[Any], response: httpx.Response, what: str) -> IntegrationError:
    """The typed error a GraphQL `errors[]` means; the first error names it."""
    first = errors[0] if isinstance(errors[0], dict) else {}
    kind = str(first.get("type") or "")
    message = str(first.get("message") or "unknown error")[:MESSAGE_CHARS]
    detail = f"github GraphQL refused {what} ({kind or 'error'}: {message})"
    if kind in _AUTH_TYPES:
        return IntegrationAuthFailed(detail, service=SERVICE)
    if kind == "NOT_FOUND":
        return IntegrationNotFound(detail, service=SERVICE)
    if kind == "RATE_LIMITED":
        reset = response.headers.get("x-ratelimit-reset")
        try:
            pause = max(1.0, float(reset) - time.time()) if reset else RATE_PAUSE_S
        except ValueError:
            pause = RATE_PAUSE_S
        return IntegrationRateLimited(detail, retry_after=pause, service=SERVICE)
    return IntegrationRejected(detail, service=SERVICE)
