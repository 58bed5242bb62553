"""A repository's GitHub Discussions through GraphQL (`repository.discussions`), each with its chosen answer:
what the knowledge store imports as a team's own Q&A."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.errors import IntegrationNotFound
from app.integrations.github_api import SERVICE, check_repo
from app.integrations.github_graphql import GitHubGraphQL
from app.integrations.jira_issue import parse_time

PAGE = 50
DISCUSSIONS = """query Discussions($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: 50, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title url body upvoteCount createdAt
        author { login url }
        category { name }
        labels(first: 10) { nodes { name } }
        answer { body url upvoteCount createdAt author { login url } }
      }
    }
  }
}"""


class DiscussionAnswer(BaseModel):
    body: str
    url: str | None = None
    upvotes: int = 0
    author: str | None = None
    author_url: str | None = None
    created_at: datetime | None = None


class Discussion(BaseModel):
    number: int
    title: str
    url: str
    body: str
    upvotes: int = 0
    author: str | None = None
    category: str | None = None
    labels: list[str] = []
    created_at: datetime | None = None
    answer: DiscussionAnswer | None = None


def _author(node: dict[str, Any]) -> tuple[str | None, str | None]:
    author = node.get("author") or {}
    return author.get("login"), author.get("url")


def _discussion(node: dict[str, Any]) -> Discussion | None:
    if not isinstance(node, dict) or not isinstance(node.get("number"), int):
        return None
    raw = node.get("answer") if isinstance(node.get("answer"), dict) else None
    answer = None
    if raw is not None:
        login, link = _author(raw)
        answer = DiscussionAnswer(
            body=str(raw.get("body") or ""),
            url=raw.get("url"),
            upvotes=int(raw.get("upvoteCount") or 0),
            author=login,
            author_url=link,
            created_at=parse_time(raw.get("createdAt")),
        )
    return Discussion(
        number=node["number"],
        title=str(node.get("title") or ""),
        url=str(node.get("url") or ""),
        body=str(node.get("body") or ""),
        upvotes=int(node.get("upvoteCount") or 0),
        author=_author(node)[0],
        category=(node.get("category") or {}).get("name"),
        labels=[str(n.get("name")) for n in ((node.get("labels") or {}).get("nodes") or []) if n.get("name")],
        created_at=parse_time(node.get("createdAt")),
        answer=answer,
    )


async def list_discussions(graphql: GitHubGraphQL, repo: str, *, answered_only: bool, limit: int) -> list[Discussion]:
    """The repository's discussions, most recently updated first; with `answered_only`, those with an answer."""
    owner, name = check_repo(repo).split("/")
    found: list[Discussion] = []
    after: str | None = None
    while len(found) < limit:
        data = await graphql.query(
            DISCUSSIONS, {"owner": owner, "name": name, "after": after}, what=f"the discussions of {repo}"
        )
        repository = data.get("repository") if isinstance(data, dict) else None
        if not repository:
            raise IntegrationNotFound(f"github has no repository {repo}", service=SERVICE)
        page = repository.get("discussions") or {}
        for node in page.get("nodes") or []:
            discussion = _discussion(node)
            if discussion is not None and (discussion.answer is not None or not answered_only):
                found.append(discussion)
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            break
        after = str(info["endCursor"])
    return found[:limit]
