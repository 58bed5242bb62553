"""The fake GitHub's repositories and the JSON GitHub answers for them (pull requests, commits, issues)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str | None) -> dict[str, Any] | None:
    return None if login is None else {"login": login, "id": abs(hash(login)) % 10**6, "type": "User"}


def changed_file(
    filename: str,
    *,
    status: str = "modified",
    additions: int = 1,
    deletions: int = 0,
    patch: str | None = "@@ -1 +1 @@\n-old\n+new",
    previous: str | None = None,
) -> dict[str, Any]:
    """A file of a pull request or comparison, as GitHub lists it."""
    raw = {
        "sha": hashlib.sha1(filename.encode(), usedforsecurity=False).hexdigest(),
        "filename": filename,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
    }
    if patch is not None:
        raw["patch"] = patch
    if previous:
        raw["previous_filename"] = previous
    return raw


@dataclass
class FakePull:
    number: int
    title: str
    head_ref: str
    head_sha: str
    base_ref: str = "main"
    base_sha: str = "b" * 40
    body: str = ""
    state: str = "open"
    draft: bool = False
    merged_at: str | None = None
    author: str = "octocat"
    labels: list[str] = field(default_factory=list)
    created_at: str = "2024-01-01T00:00:00Z"
    files: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    diff_too_large: bool = False
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)  # submitted reviews, as GitHub answered them
    resolved_threads: set[int] = field(default_factory=set)  # first-comment ids of resolved review threads


@dataclass
class FakeIssue:
    number: int
    title: str
    body: str = ""
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    author: str = "octocat"
    assignee: str | None = None
    updated_at: str = "2024-01-01T00:00:00Z"


@dataclass
class FakeRepo:
    full_name: str
    default_branch: str = "main"
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # ref -> path -> content
    pulls: dict[int, FakePull] = field(default_factory=dict)
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # issue/PR number -> comments
    commits: list[dict[str, Any]] = field(default_factory=list)  # newest first: sha, message, author..., files
    tags: list[tuple[str, str]] = field(default_factory=list)
    # "base...head" -> the files GitHub lists for that comparison (with their patches); else generic ones
    compare_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)  # as GitHub answers them
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head SHA, for branches made by clients
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # review comment id -> reactions
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role_name (admin, maintain, write, ...)
    discussions: list[dict[str, Any]] = field(default_factory=list)  # GraphQL nodes (tests/fakes/github_discussions)
    # What GET /repos/{repo} and the repository lists answer beyond the defaults (language, archived, fork,
    # size, pushed_at, topics, clone_url, ...)
    meta: dict[str, Any] = field(default_factory=dict)

    def react(self, comment_id: int, login: str, content: str) -> None:
        """A reaction on a review comment, as GitHub lists it (`+1`, `-1`, `heart`, ...)."""
        found = self.reactions.setdefault(comment_id, [])
        node = f"REA_{comment_id}_{len(found)}"
        found.append({"id": 9000 + len(found), "node_id": node, "user": user(login), "content": content})

    def add_file(self, path: str, content: str | bytes, *, ref: str | None = None) -> None:
        data = content.encode() if isinstance(content, str) else content
        self.files.setdefault(ref or self.default_branch, {})[path] = data

    def add_commit(
        self,
        message: str,
        *,
        author: str = "Mona Lisa",
        email: str = "mona@example.com",
        login: str | None = "mona",
        date: str = "2024-01-01T00:00:00Z",
        files: tuple[str, ...] = (),
    ) -> str:
        sha = hashlib.sha1(
            f"{self.full_name}:{len(self.commits)}:{message}".encode(), usedforsecurity=False
        ).hexdigest()
        parents = [self.commits[0]["sha"]] if self.commits else []
        self.commits.insert(
            0,
            {
                "sha": sha,
                "message": message,
                "author": author,
                "email": email,
                "login": login,
                "date": date,
                "parents": parents,
                "files": list(files),
            },
        )
        return sha

    def resolve(self, ref: str) -> int | None:
        """Index (in the newest-first list) of the commit a branch, tag or SHA names."""
        if ref == self.default_branch:
            return 0 if self.commits else None
        sha = dict(self.tags).get(ref, ref)
        return next((i for i, c in enumerate(self.commits) if c["sha"].startswith(sha)), None)

    def ancestry(self, sha: str) -> set[str]:
        """The commit and every commit it descends from, by their parents."""
        by_sha = {c["sha"]: c for c in self.commits}
        seen: set[str] = set()
        waiting = [sha]
        while waiting:
            current = waiting.pop()
            if current in seen or current not in by_sha:
                continue
            seen.add(current)
            waiting += by_sha[current]["parents"]
        return seen

    def next_number(self) -> int:
        return max([0, *self.pulls, *self.issues]) + 1


def pull_json(web: str, pull: FakePull) -> dict[str, Any]:
    return {
        "number": pull.number,
        "html_url": f"{web}/pull/{pull.number}",
        "state": pull.state,
        "title": pull.title,
        "body": pull.body or None,
        "user": user(pull.author),
        "draft": pull.draft,
        "labels": [{"name": label} for label in pull.labels],
        "created_at": pull.created_at,
        "updated_at": pull.created_at,
        "merged_at": pull.merged_at,
        "head": {"ref": pull.head_ref, "sha": pull.head_sha, "label": f"x:{pull.head_ref}"},
        "base": {"ref": pull.base_ref, "sha": pull.base_sha, "label": f"x:{pull.base_ref}"},
    }


def commit_json(web: str, raw: dict[str, Any]) -> dict[str, Any]:
    person = {"name": raw["author"], "email": raw["email"], "date": raw["date"]}
    return {
        "sha": raw["sha"],
        "html_url": f"{web}/commit/{raw['sha']}",
        "commit": {"author": person, "committer": person, "message": raw["message"], "comment_count": 0},
        "author": user(raw["login"]),
        "committer": user(raw["login"]),
        "parents": [{"sha": p, "html_url": f"{web}/commit/{p}"} for p in raw["parents"]],
    }


def issue_json(web: str, repo: FakeRepo, item: FakeIssue | FakePull) -> dict[str, Any]:
    raw = {
        "number": item.number,
        "title": item.title,
        "body": item.body or None,
        "state": item.state,
        "labels": [{"name": label} for label in item.labels],
        "user": user(item.author),
        "comments": len(repo.comments.get(item.number, [])),
        "created_at": "2024-01-01T00:00:00Z",
    }
    if isinstance(item, FakePull):
        return raw | {
            "html_url": f"{web}/pull/{item.number}",
            "assignee": None,
            "updated_at": item.created_at,
            "pull_request": {"html_url": f"{web}/pull/{item.number}", "merged_at": item.merged_at},
        }
    return raw | {
        "html_url": f"{web}/issues/{item.number}",
        "assignee": user(item.assignee),
        "updated_at": item.updated_at,
    }
