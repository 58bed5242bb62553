"""GitLab's JSON turned into our domain types (app.integrations.types): one function per object.

GitLab is trusted for its shapes, not for their sizes: texts are cut, and a shape we do not recognise is an
IntegrationUnavailable naming the object, never a KeyError in a workflow.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from app.errors import IntegrationUnavailable
from app.integrations.scm_text import count_changes
from app.integrations.types import CodeHit, Commit, PullRequest, PullRequestComment, PullRequestFile, Tag

SERVICE = "gitlab"
BODY_MAX_CHARS = 100_000  # GitLab's own cap on descriptions is 1,000,000
MESSAGE_MAX_CHARS = 20_000
FRAGMENT_MAX_CHARS = 600


@contextmanager
def shape(what: str) -> Iterator[None]:
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):  # pydantic's ValidationError is a ValueError
        raise IntegrationUnavailable(f"gitlab answered an unexpected shape for {what}", service=SERVICE) from None


def obj(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise IntegrationUnavailable(f"gitlab answered an unexpected shape for {what}", service=SERVICE)
    return body


def merge_request(repo: str, raw: Mapping[str, Any], web: str) -> PullRequest:
    with shape("a merge request"):
        refs = raw.get("diff_refs") or {}
        if raw["state"] == "merged":
            state = "merged"
        elif raw["state"] == "closed":
            state = "closed"
        else:  # opened, or locked while it merges
            state = "draft" if raw.get("draft") or raw.get("work_in_progress") else "open"
        return PullRequest(
            repo=repo,
            number=raw["iid"],
            title=raw.get("title") or "",
            body=(raw.get("description") or "")[:BODY_MAX_CHARS],
            state=state,
            author=(raw.get("author") or {}).get("username"),
            source_branch=raw.get("source_branch"),
            target_branch=raw.get("target_branch"),
            head_sha=refs.get("head_sha") or raw.get("sha"),
            base_sha=refs.get("base_sha"),
            labels=[label if isinstance(label, str) else label["name"] for label in raw.get("labels") or []],
            created_at=raw.get("created_at"),
            updated_at=raw.get("updated_at"),
            merged_at=raw.get("merged_at"),
            url=raw.get("web_url") or f"{web}/{repo}/-/merge_requests/{raw['iid']}",
        )


def changed_file(raw: Mapping[str, Any]) -> PullRequestFile:
    """One entry of a merge request's (or a comparison's) diffs."""
    with shape("a changed file"):
        patch = raw.get("diff") or None
        added, removed = count_changes(patch)
        if raw.get("new_file"):
            status = "added"
        elif raw.get("deleted_file"):
            status = "removed"
        elif raw.get("renamed_file"):
            status = "renamed"
        else:
            status = "modified"
        return PullRequestFile(
            path=raw.get("new_path") or raw["old_path"],
            previous_path=raw.get("old_path") if status == "renamed" else None,
            status=status,
            additions=added,
            deletions=removed,
            patch=patch,
        )


def unified(raw: Mapping[str, Any]) -> str:
    """One file of a merge request as `git diff` prints it: GitLab sends the hunks without the headers."""
    old, new = raw.get("old_path") or "", raw.get("new_path") or ""
    lines = [f"diff --git a/{old} b/{new}"]
    old_name, new_name = f"a/{old}", f"b/{new}"
    if raw.get("new_file"):
        lines.append(f"new file mode {raw.get('b_mode') or '100644'}")
        old_name = "/dev/null"
    elif raw.get("deleted_file"):
        lines.append(f"deleted file mode {raw.get('a_mode') or '100644'}")
        new_name = "/dev/null"
    else:
        if raw.get("a_mode") and raw.get("b_mode") and raw["a_mode"] != raw["b_mode"]:
            lines += [f"old mode {raw['a_mode']}", f"new mode {raw['b_mode']}"]
        if raw.get("renamed_file"):
            lines += [f"rename from {old}", f"rename to {new}"]
    hunks = str(raw.get("diff") or "")
    if hunks.startswith("@@"):
        lines += [f"--- {old_name}", f"+++ {new_name}"]
    text = "\n".join(lines) + "\n" + hunks
    return text if text.endswith("\n") else text + "\n"


def commit(repo: str, raw: Mapping[str, Any], web: str) -> Commit:
    with shape("a commit"):
        sha = raw["id"]
        return Commit(
            sha=sha,
            message=(raw.get("message") or raw.get("title") or "")[:MESSAGE_MAX_CHARS],
            author_name=raw.get("author_name"),
            author_email=raw.get("author_email"),
            authored_at=raw.get("authored_date") or raw.get("created_at"),
            parents=list(raw.get("parent_ids") or []),
            url=raw.get("web_url") or f"{web}/{repo}/-/commit/{sha}",
        )


def tag(repo: str, raw: Mapping[str, Any], web: str) -> Tag:
    with shape("a tag"):
        target = raw.get("commit") or {}
        return Tag(
            name=raw["name"],
            sha=target.get("id") or raw.get("target") or "",
            message=(raw.get("message") or "")[:MESSAGE_MAX_CHARS] or None,
            created_at=raw.get("created_at") or target.get("committed_date") or target.get("created_at"),
            url=f"{web}/{repo}/-/tags/{quote(raw['name'])}",
        )


def blob_hit(raw: Mapping[str, Any], project: str, web: str) -> CodeHit:
    with shape("a code search result"):
        path = raw.get("path") or raw["filename"]
        line = raw.get("startline")
        url = f"{web}/{project}/-/blob/{quote(raw.get('ref') or 'HEAD')}/{quote(path)}"
        return CodeHit(
            repo=project,
            path=path,
            url=url + (f"#L{line}" if line else ""),
            fragment=(raw.get("data") or "")[:FRAGMENT_MAX_CHARS] or None,
        )


def file_bytes(raw: Mapping[str, Any]) -> bytes:
    """The content of a repository file as the files API sends it (base64, or text)."""
    content = raw.get("content") or ""
    if raw.get("encoding") == "base64":
        try:
            return base64.b64decode(content)  # not strict: a newline-wrapped encoding decodes too
        except (binascii.Error, ValueError):
            raise IntegrationUnavailable("gitlab sent a file that is not valid base64", service=SERVICE) from None
    return str(content).encode()


def note(raw: Mapping[str, Any], url: str, *, thread_id: str | None = None) -> PullRequestComment:
    """A merge request note; a diff note carries its position (the new-side line it is on)."""
    with shape("a note"):
        position = raw.get("position") or {}
        return PullRequestComment(
            id=str(raw["id"]),
            body=raw.get("body") or "",
            author=(raw.get("author") or {}).get("username"),
            path=position.get("new_path"),
            line=position.get("new_line"),
            thread_id=thread_id,
            resolved=bool(raw.get("resolved")),
            created_at=raw.get("created_at"),
            url=f"{url}#note_{raw['id']}",
        )
