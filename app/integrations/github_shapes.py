"""GitHub's JSON turned into our domain types (app.integrations.types): one function per object.

GitHub is trusted for its shapes, not for their sizes: texts are cut, and a shape we do not recognise is an
IntegrationUnavailable naming the object, never a KeyError in a workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.errors import IntegrationUnavailable
from app.integrations.types import (
    CodeHit,
    Commit,
    PullRequest,
    PullRequestComment,
    PullRequestFile,
    PullRequestReview,
    ReviewComment,
    Tag,
    TrackerComment,
    TrackerIssue,
)

SERVICE = "github"
MESSAGE_MAX_CHARS = 20_000  # commit messages: GitHub caps PR and issue bodies (65,536), not these
FRAGMENT_MAX_CHARS = 2_000
FILE_STATUSES = frozenset({"added", "modified", "removed", "renamed", "copied", "changed", "unchanged"})


@contextmanager
def shape(what: str) -> Iterator[None]:
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):  # pydantic's ValidationError is a ValueError
        raise IntegrationUnavailable(f"github answered an unexpected shape for {what}", service=SERVICE) from None


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def pull_request(repo: str, raw: dict[str, Any]) -> PullRequest:
    with shape("a pull request"):
        if raw.get("merged_at"):
            state = "merged"
        elif raw["state"] == "open":
            state = "draft" if raw.get("draft") else "open"
        else:
            state = "closed"
        head, base = raw.get("head") or {}, raw.get("base") or {}
        return PullRequest(
            repo=repo,
            number=raw["number"],
            title=raw["title"],
            body=raw.get("body") or "",
            state=state,
            author=_login(raw.get("user")),
            source_branch=head.get("ref"),
            target_branch=base.get("ref"),
            head_sha=head.get("sha"),
            base_sha=base.get("sha"),
            labels=[label["name"] for label in raw.get("labels") or []],
            created_at=raw.get("created_at"),
            updated_at=raw.get("updated_at"),
            merged_at=raw.get("merged_at"),
            url=raw["html_url"],
        )


def pull_request_file(raw: dict[str, Any]) -> PullRequestFile:
    with shape("a changed file"):
        status = raw.get("status")
        return PullRequestFile(
            path=raw["filename"],
            previous_path=raw.get("previous_filename"),
            status=status if status in FILE_STATUSES else "modified",
            additions=raw.get("additions") or 0,
            deletions=raw.get("deletions") or 0,
            patch=raw.get("patch"),
        )


def commit(raw: dict[str, Any]) -> Commit:
    with shape("a commit"):
        info = raw["commit"]
        author = info.get("author") or {}
        return Commit(
            sha=raw["sha"],
            message=(info.get("message") or "")[:MESSAGE_MAX_CHARS],
            author_name=author.get("name"),
            author_email=author.get("email"),
            author_login=_login(raw.get("author")),
            authored_at=author.get("date"),
            parents=[parent["sha"] for parent in raw.get("parents") or []],
            url=raw["html_url"],
        )


def code_hit(raw: dict[str, Any]) -> CodeHit:
    with shape("a code search result"):
        fragments = [
            match["fragment"]
            for match in raw.get("text_matches") or []
            if match.get("property") == "content" and match.get("fragment")
        ]
        return CodeHit(
            repo=raw["repository"]["full_name"],
            path=raw["path"],
            url=raw["html_url"],
            fragment="\n…\n".join(fragments)[:FRAGMENT_MAX_CHARS] or None,
        )


def tag(raw: dict[str, Any], url: str) -> Tag:
    with shape("a tag"):
        return Tag(name=raw["name"], sha=raw["commit"]["sha"], url=url)


def issue_comment(raw: dict[str, Any]) -> TrackerComment:
    with shape("an issue comment"):
        return TrackerComment(
            id=str(raw["id"]),
            author=_login(raw.get("user")),
            created_at=raw.get("created_at"),
            body=raw.get("body") or "",
            url=raw.get("html_url"),
        )


def issue(repo: str, raw: dict[str, Any], comments: list[TrackerComment]) -> TrackerIssue:
    with shape("an issue"):
        kind = (raw.get("type") or {}).get("name") or ("pull request" if raw.get("pull_request") else "issue")
        return TrackerIssue(
            key=f"{repo}#{raw['number']}",
            title=raw["title"],
            status=raw["state"],
            issue_type=kind,
            assignee=_login(raw.get("assignee")),
            reporter=_login(raw.get("user")),
            labels=[label["name"] for label in raw.get("labels") or []],
            description=raw.get("body") or "",
            comments=comments,
            created_at=raw.get("created_at"),
            updated_at=raw.get("updated_at"),
            url=raw["html_url"],
        )


def review_comment(raw: dict[str, Any]) -> ReviewComment:
    with shape("a review comment"):
        return ReviewComment(
            id=raw["id"],
            path=raw["path"],
            line=raw.get("line"),
            start_line=raw.get("start_line"),
            side=raw.get("side"),
            body=raw.get("body") or "",
            author=_login(raw.get("user")),
            commit_sha=raw.get("commit_id"),
            review_id=raw.get("pull_request_review_id"),
            in_reply_to=raw.get("in_reply_to_id"),
            created_at=raw.get("created_at"),
            url=raw["html_url"],
        )


def review(raw: dict[str, Any]) -> PullRequestReview:
    with shape("a review"):
        return PullRequestReview(id=raw["id"], state=raw["state"], commit_sha=raw.get("commit_id"), url=raw["html_url"])


def pull_request_comment(raw: dict[str, Any]) -> PullRequestComment:
    """An issue comment (a pull request's top-level comment) or a review comment (on a line)."""
    with shape("a comment"):
        return PullRequestComment(
            id=str(raw["id"]),
            body=raw.get("body") or "",
            author=_login(raw.get("user")),
            path=raw.get("path"),
            line=raw.get("line"),
            created_at=raw.get("created_at"),
            url=raw.get("html_url"),
        )
