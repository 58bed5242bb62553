"""The fake GitHub's `repository.discussions` GraphQL connection, in GitHub's shapes: pages of 50 nodes with
`pageInfo`, each discussion with its author, category, labels and its chosen `answer` (null when none)."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.github_data import FakeRepo


def discussion(
    number: int,
    title: str,
    body: str,
    *,
    answer: str | None = None,
    answer_author: str = "maintainer",
    upvotes: int = 0,
    category: str = "Q&A",
    labels: tuple[str, ...] = (),
    repo: str = "acme/app",
) -> dict[str, Any]:
    """A discussion node as GitHub answers it."""
    url = f"https://github.com/{repo}/discussions/{number}"
    chosen = None
    if answer is not None:
        chosen = {
            "body": answer,
            "url": f"{url}#discussioncomment-{number * 10}",
            "upvoteCount": upvotes,
            "createdAt": "2024-03-02T10:00:00Z",
            "author": {"login": answer_author, "url": f"https://github.com/{answer_author}"},
        }
    return {
        "number": number,
        "title": title,
        "url": url,
        "body": body,
        "upvoteCount": 1,
        "createdAt": "2024-03-01T10:00:00Z",
        "author": {"login": "asker", "url": "https://github.com/asker"},
        "category": {"name": category},
        "labels": {"nodes": [{"name": n} for n in labels]},
        "answer": chosen,
    }


def answer(repos: dict[str, FakeRepo], variables: dict[str, Any]) -> dict[str, Any]:
    full = f"{variables.get('owner')}/{variables.get('name')}"
    repo = repos.get(full)
    if repo is None:
        message = f"Could not resolve to a Repository with the name '{full}'."
        error = {
            "type": "NOT_FOUND",
            "path": ["repository"],
            "locations": [{"line": 2, "column": 3}],
            "message": message,
        }
        return {"data": {"repository": None}, "errors": [error]}
    after = variables.get("after")
    start = int(base64.b64decode(after).decode()) if after else 0
    nodes = repo.discussions[start : start + 50]
    more = start + 50 < len(repo.discussions)
    end = base64.b64encode(str(start + 50).encode()).decode() if nodes else None
    page = {"pageInfo": {"hasNextPage": more, "endCursor": end}, "nodes": nodes}
    return {"data": {"repository": {"discussions": page}}}
