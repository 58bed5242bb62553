"""What every SCM client (GitHub, GitLab, Bitbucket) offers, so tools and workflows never ask which one it is.

A repository is named by its full path on the service: `owner/name` (GitHub), `group/subgroup/project`
(GitLab), `workspace/slug` (Bitbucket). Every list is bounded by `limit`; every text by `max_bytes`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from app.integrations.types import CodeHit, Commit, FileContent, Identity, PullRequest

PullRequestState = Literal["open", "closed", "merged", "all"]


class ScmClient(Protocol):
    async def identity(self) -> Identity: ...

    async def get_file(self, repo: str, path: str, *, ref: str | None = None, max_bytes: int = 200_000) -> FileContent:
        """A file's text at `ref` (default branch when None); cut to `max_bytes` with `truncated` set."""
        ...

    async def list_pull_requests(
        self, repo: str, *, state: PullRequestState = "open", limit: int = 30
    ) -> list[PullRequest]:
        """Newest first, without files."""
        ...

    async def get_pull_request(self, repo: str, number: int, *, max_files: int = 300) -> PullRequest:
        """Metadata and changed files (each with its patch when the service gives one)."""
        ...

    async def get_pull_request_diff(self, repo: str, number: int, *, max_bytes: int = 500_000) -> str:
        """The unified diff of the whole pull request, cut at `max_bytes` on a line boundary."""
        ...

    async def search_code(self, query: str, *, repo: str | None = None, limit: int = 20) -> list[CodeHit]: ...

    async def list_commits(
        self,
        repo: str,
        *,
        ref: str | None = None,
        path: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Commit]:
        """Newest first."""
        ...

    async def comment_on_pull_request(self, repo: str, number: int, body: str) -> str:
        """Post a top-level comment; returns its URL."""
        ...

    async def aclose(self) -> None: ...
