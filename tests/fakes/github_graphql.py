"""The fake GitHub's GraphQL endpoint (`/api/graphql` on Enterprise Server, `/graphql` on the cloud API): the two
operations the review uses, `repository.pullRequest.reviewThreads` and `resolveReviewThread`, answered in GitHub's
shapes, errors included (HTTP 200 with `errors[]` carrying `type`, `path`, `locations` and `message`).

A thread is a top-level review comment with its replies; its node id is derived from the first comment's id.
`refusal` makes every call answer the way GitHub answers a token that may not: `"scopes"` a classic token
without `repo` (INSUFFICIENT_SCOPES), `"forbidden"` an App or fine-grained token without pull-request write
(FORBIDDEN, "Resource not accessible by integration").
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.fakes import github_discussions
from tests.fakes.github_data import FakeRepo

THREAD_PREFIX = "PRRT_kwDOfake"
LOCATION = [{"line": 2, "column": 3}]


def thread_id(comment_id: int) -> str:
    return f"{THREAD_PREFIX}{comment_id}"


def answer(repos: dict[str, FakeRepo], body: Any, *, refusal: str | None) -> tuple[int, dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, {"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"}
    query, variables = body["query"], body.get("variables") or {}
    if "resolveReviewThread" in query:
        operation = "resolveReviewThread"
    elif "reviewThreads" in query or "discussions(" in query:
        operation = "repository"
    else:
        field = re.search(r"\{\s*(\w+)", query)
        name = field.group(1) if field else "?"
        return 200, {"errors": [_error(None, f"Field '{name}' doesn't exist on type 'Query'", [name])]}
    if refusal == "scopes":
        message = (
            "Your token has not been granted the required scopes to execute this query. The "
            f"'{operation}' field requires one of the following scopes: ['repo'], but your token has only been "
            "granted the: ['read:org'] scopes. Please modify your token's scopes at: https://github.com/settings/tokens."
        )
        return 200, {"errors": [_error("INSUFFICIENT_SCOPES", message, None)]}
    if refusal == "forbidden":
        error = _error("FORBIDDEN", "Resource not accessible by integration", [operation])
        return 200, {"data": {operation: None}, "errors": [error | {"extensions": {"saml_failure": False}}]}
    if operation == "resolveReviewThread":
        return 200, _resolve(repos, str(variables.get("threadId") or ""))
    if "discussions(" in query:
        return 200, github_discussions.answer(repos, variables)
    return 200, _threads(repos, query, variables)


def _threads(repos: dict[str, FakeRepo], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    full = f"{variables.get('owner')}/{variables.get('name')}"
    repo = repos.get(full)
    if repo is None:
        message = f"Could not resolve to a Repository with the name '{full}'."
        return {"data": {"repository": None}, "errors": [_error("NOT_FOUND", message, ["repository"])]}
    pull = repo.pulls.get(int(variables.get("number") or 0))
    if pull is None:
        message = f"Could not resolve to a PullRequest with the number of {variables.get('number')}."
        error = _error("NOT_FOUND", message, ["repository", "pullRequest"])
        return {"data": {"repository": {"pullRequest": None}}, "errors": [error]}
    first = int(m.group(1)) if (m := re.search(r"reviewThreads\(first:\s*(\d+)", query)) else 100
    after = variables.get("after")
    start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
    roots = [c for c in pull.review_comments if not c.get("in_reply_to_id")]
    page = roots[start : start + first]
    nodes = [
        {
            "id": thread_id(c["id"]),
            "isResolved": c["id"] in pull.resolved_threads,
            "comments": {"nodes": [{"databaseId": c["id"]}]},
        }
        for c in page
    ]
    end = start + len(page)
    cursor = base64.b64encode(f"cursor:{end}".encode()).decode() if page else None
    info = {"hasNextPage": end < len(roots), "endCursor": cursor}
    return {"data": {"repository": {"pullRequest": {"reviewThreads": {"pageInfo": info, "nodes": nodes}}}}}


def _resolve(repos: dict[str, FakeRepo], node_id: str) -> dict[str, Any]:
    for repo in repos.values():
        for pull in repo.pulls.values():
            for comment in pull.review_comments:
                if thread_id(comment["id"]) == node_id and not comment.get("in_reply_to_id"):
                    pull.resolved_threads.add(comment["id"])
                    return {"data": {"resolveReviewThread": {"thread": {"id": node_id, "isResolved": True}}}}
    message = f"Could not resolve to a node with the global id of '{node_id}'."
    return {"data": {"resolveReviewThread": None}, "errors": [_error("NOT_FOUND", message, ["resolveReviewThread"])]}


def _error(kind: str | None, message: str, path: list[str] | None) -> dict[str, Any]:
    error: dict[str, Any] = {"locations": LOCATION, "message": message}
    if kind is not None:
        error["type"] = kind
    if path is not None:
        error["path"] = path
    return error
