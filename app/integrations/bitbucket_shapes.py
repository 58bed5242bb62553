"""Bitbucket Cloud's JSON turned into our domain types (app.integrations.types): one function per object.

Bitbucket is trusted for its shapes, not for their sizes: texts are cut, and a shape we do not recognise is
an IntegrationUnavailable naming the object, never a KeyError in a workflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote, unquote

import httpx

from app.errors import IntegrationUnavailable
from app.integrations.types import CodeHit, Commit, PullRequest, PullRequestComment, PullRequestFile, Tag

SERVICE = "bitbucket"
BODY_MAX_CHARS = 100_000
MESSAGE_MAX_CHARS = 20_000
FRAGMENT_MAX_CHARS = 600
FILE_STATUSES = {"added": "added", "removed": "removed", "modified": "modified", "renamed": "renamed"}
SRC_LINK = re.compile(r"/2\.0/repositories/([^/]+)/([^/]+)/src/([^/]+)/")


@contextmanager
def shape(what: str) -> Iterator[None]:
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):  # pydantic's ValidationError is a ValueError
        raise IntegrationUnavailable(f"bitbucket answered an unexpected shape for {what}", service=SERVICE) from None


def obj(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise IntegrationUnavailable(
            f"bitbucket answered {what} with something that is not JSON", service=SERVICE
        ) from None
    if not isinstance(body, dict):
        raise IntegrationUnavailable(f"bitbucket answered an unexpected shape for {what}", service=SERVICE)
    return body


def html(item: Mapping[str, Any]) -> str | None:
    return ((item.get("links") or {}).get("html") or {}).get("href")


def pull_request(repo: str, raw: Mapping[str, Any], web: str) -> PullRequest:
    with shape("a pull request"):
        source, destination = raw.get("source") or {}, raw.get("destination") or {}
        author = raw.get("author") or {}
        if raw["state"] == "MERGED":
            state = "merged"
        elif raw["state"] in ("DECLINED", "SUPERSEDED"):
            state = "closed"
        else:
            state = "draft" if raw.get("draft") else "open"
        return PullRequest(
            repo=repo,
            number=raw["id"],
            title=raw.get("title") or "",
            body=(raw.get("description") or (raw.get("summary") or {}).get("raw") or "")[:BODY_MAX_CHARS],
            state=state,
            author=author.get("nickname") or author.get("display_name"),
            source_branch=(source.get("branch") or {}).get("name"),
            target_branch=(destination.get("branch") or {}).get("name"),
            head_sha=(source.get("commit") or {}).get("hash"),  # Bitbucket abbreviates these to 12 characters
            base_sha=(destination.get("commit") or {}).get("hash"),
            created_at=raw.get("created_on"),
            updated_at=raw.get("updated_on"),
            url=html(raw) or f"{web}/{repo}/pull-requests/{raw['id']}",
        )


def changed_file(raw: Mapping[str, Any]) -> PullRequestFile:
    """One diffstat entry (its patch is attached from the diff separately)."""
    with shape("a diffstat entry"):
        status = str(raw.get("status") or "modified")
        old = (raw.get("old") or {}).get("path")
        new = (raw.get("new") or {}).get("path")
        return PullRequestFile(
            path=new or old,
            previous_path=old if status == "renamed" else None,
            status=FILE_STATUSES.get(status, "changed"),  # "merge conflict", "local deleted", ...
            additions=int(raw.get("lines_added") or 0),
            deletions=int(raw.get("lines_removed") or 0),
        )


def commit(repo: str, raw: Mapping[str, Any], web: str) -> Commit:
    with shape("a commit"):
        author = raw.get("author") or {}
        user = author.get("user") or {}
        name, email = parseaddr(author.get("raw") or "")
        sha = raw["hash"]
        return Commit(
            sha=sha,
            message=(raw.get("message") or "")[:MESSAGE_MAX_CHARS],
            author_name=name or user.get("display_name") or None,
            author_email=email or None,
            author_login=user.get("nickname"),
            authored_at=raw.get("date"),
            parents=[parent["hash"] for parent in raw.get("parents") or []],
            url=html(raw) or f"{web}/{repo}/commits/{sha}",
        )


def tag(repo: str, raw: Mapping[str, Any], web: str) -> Tag:
    with shape("a tag"):
        target = raw.get("target") or {}
        return Tag(
            name=raw["name"],
            sha=target["hash"],
            message=(raw.get("message") or "").strip()[:MESSAGE_MAX_CHARS] or None,
            created_at=raw.get("date") or target.get("date"),
            url=html(raw) or f"{web}/{repo}/src/{quote(raw['name'], safe='')}",
        )


def code_hit(raw: Mapping[str, Any], fallback_repo: str, web: str) -> CodeHit:
    """A workspace code search result; its repository and commit are read from the file's API link when the
    result does not name them."""
    with shape("a code search result"):
        file = raw["file"]
        path = file["path"]
        link = SRC_LINK.search(((file.get("links") or {}).get("self") or {}).get("href") or "")
        found_in = file.get("commit") or {}
        full_name = (found_in.get("repository") or {}).get("full_name") or (
            f"{unquote(link[1])}/{unquote(link[2])}" if link else fallback_repo
        )
        revision = found_in.get("hash") or (unquote(link[3]) if link else "HEAD")
        lines = [line for match in raw.get("content_matches") or [] for line in match.get("lines") or []]
        fragment = "\n".join("".join(s.get("text", "") for s in line.get("segments") or []) for line in lines)
        matched = next((line.get("line") for line in lines if _has_match(line)), None)
        url = f"{web}/{full_name}/src/{quote(revision, safe='')}/{quote(path)}"
        return CodeHit(
            repo=full_name,
            path=path,
            url=url + (f"#lines-{matched}" if matched else ""),
            fragment=fragment[:FRAGMENT_MAX_CHARS] or None,
        )


def is_listing(response: httpx.Response) -> bool:
    """`src` answers a directory with a paged JSON listing of its entries."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    values = body.get("values") if isinstance(body, dict) else None
    return (
        isinstance(values, list)
        and "pagelen" in body
        and all(isinstance(v, dict) and v.get("type") in ("commit_file", "commit_directory") for v in values)
    )


def _has_match(line: Mapping[str, Any]) -> bool:
    return any(segment.get("match") for segment in line.get("segments") or [])


def comment(raw: Mapping[str, Any], fallback_url: str) -> PullRequestComment:
    """A pull request comment; an inline one names its file and its new-side line (`to`). A reply's thread is
    its top comment."""
    with shape("a comment"):
        inline = raw.get("inline") or {}
        parent = (raw.get("parent") or {}).get("id")
        user = raw.get("user") or {}
        return PullRequestComment(
            id=str(raw["id"]),
            body=(raw.get("content") or {}).get("raw") or "",
            author=user.get("nickname") or user.get("display_name"),
            path=inline.get("path"),
            line=inline.get("to"),
            thread_id=str(parent if parent is not None else raw["id"]),
            resolved=raw.get("resolution") is not None,
            created_at=raw.get("created_on"),
            url=html(raw) or f"{fallback_url}#comment-{raw['id']}",
        )
