"""One small adapter per platform, so the review flow never asks which one it talks to: read the pull request,
its diff, the changes since a commit and the comments on it; post line comments and the summary; mark or
resolve an outdated comment; label; approve or request changes. Each adapter wraps that platform's client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.auth.roles import Role
from app.errors import IntegrationNotFound, IntegrationRejected
from app.integrations.types import Comparison, PullRequest, PullRequestComment
from app.review.diff import FileDiff, from_file_diffs
from app.review.findings import Finding
from app.review.pr.anchors import Anchor

RULES_FILE = ".adjutant.toml"
RULES_MAX_BYTES = 200_000
DIFF_MAX_BYTES = 3_000_000
FILE_MAX_BYTES = 200_000


@dataclass(frozen=True)
class LineDraft:
    finding: Finding
    anchor: Anchor
    body: str


@dataclass(frozen=True)
class Posted:
    id: str
    thread_id: str | None
    url: str | None


@dataclass(frozen=True)
class Reaction:
    """A thumbs up (useful) or down on one of our comments, by a platform login."""

    login: str
    useful: bool


# A draft's outcome: where it was posted, or why the platform would not take it.
PostOutcome = Posted | str
OutdatedState = Literal["OUTDATED", "RESOLVED"]


class Platform(Protocol):
    kind: str
    can_label: bool
    can_request_changes: bool

    async def bot_names(self) -> tuple[str, ...]:
        """The names the connection's own pull requests carry as their author."""
        ...

    async def pull_request(self, repo: str, number: int) -> PullRequest: ...

    async def pull_request_diff(self, repo: str, number: int) -> str: ...

    async def changes_since(self, repo: str, base: str, head: str) -> list[FileDiff] | None:
        """What `head` changed since `base`; None when `head` does not descend from `base` (a force-push)."""
        ...

    async def comments(self, repo: str, number: int) -> list[PullRequestComment]: ...

    async def read_file(self, repo: str, path: str, ref: str, *, max_bytes: int = FILE_MAX_BYTES) -> str | None:
        """A file's text at `ref`; None when there is no such file."""
        ...

    async def post_comments(self, pr: PullRequest, drafts: list[LineDraft]) -> list[PostOutcome]: ...

    async def post_note(self, pr: PullRequest, body: str) -> Posted:
        """A top-level comment (the summary, an answer to a command)."""
        ...

    async def edit_summary(self, pr: PullRequest, comment_id: str, body: str) -> Posted: ...

    async def mark_outdated(
        self, pr: PullRequest, comment_id: str, thread_id: str | None, body: str
    ) -> OutdatedState: ...

    async def add_labels(self, pr: PullRequest, labels: list[str]) -> list[str]: ...

    async def approve(self, pr: PullRequest) -> None: ...

    async def request_changes(self, pr: PullRequest, body: str) -> None: ...

    async def reactions(self, pr: PullRequest, comment_id: str) -> list[Reaction]:
        """Thumbs on one of our line comments; [] where the platform has no reactions."""
        ...

    async def permission(self, repo: str, login: str) -> Role | None:
        """The team role the platform's permission of `login` on `repo` maps to; None: no role."""
        ...

    async def aclose(self) -> None: ...


class ScmPlatform:
    """What the three adapters do alike, through their platform's client: who the bot is, the pull request and
    its diff, the comparison since the reviewed head, file reads, closing. Each adapter adds how it posts,
    threads and resolves."""

    kind: str
    can_label: bool
    can_request_changes: bool
    compare_max_files = 300  # files the comparison carries patches for

    def __init__(self, client: Any) -> None:
        self.client = client

    async def bot_names(self) -> tuple[str, ...]:
        identity = await self.client.identity()
        return (identity.login,)

    async def pull_request(self, repo: str, number: int) -> PullRequest:
        return await self.client.get_pull_request(repo, number, max_files=1)

    async def pull_request_diff(self, repo: str, number: int) -> str:
        return await self.client.get_pull_request_diff(repo, number, max_bytes=DIFF_MAX_BYTES)

    async def descendant_comparison(self, repo: str, base: str, head: str) -> Comparison | None:
        """The comparison of `head` with `base`; None when `head` does not build on it (a force-push)."""
        try:
            comparison = await self.client.compare(repo, base, head, limit=250, max_files=self.compare_max_files)
        except IntegrationNotFound:  # the reviewed head is gone: the branch was rewritten
            return None
        return comparison if descends(comparison, base) else None

    async def changes_since(self, repo: str, base: str, head: str) -> list[FileDiff] | None:
        comparison = await self.descendant_comparison(repo, base, head)
        return None if comparison is None else files_of(comparison)

    async def read_file(self, repo: str, path: str, ref: str, *, max_bytes: int = FILE_MAX_BYTES) -> str | None:
        return await read_text(self.client, repo, path, ref, max_bytes)

    async def aclose(self) -> None:
        await self.client.aclose()


def platform_for(kind: str, client: Any) -> Platform:
    from app.review.pr.bitbucket_platform import BitbucketPlatform
    from app.review.pr.github_platform import GitHubPlatform
    from app.review.pr.gitlab_platform import GitLabPlatform

    adapters: dict[str, type] = {"github": GitHubPlatform, "gitlab": GitLabPlatform, "bitbucket": BitbucketPlatform}
    return adapters[kind](client)


def same_commit(a: str | None, b: str | None) -> bool:
    """Equal SHAs, allowing for Bitbucket's 12-character abbreviations."""
    if not a or not b or min(len(a), len(b)) < 7:
        return False
    return a.startswith(b) or b.startswith(a)


def descends(comparison: Comparison, base: str) -> bool:
    """Whether the compared head builds on `base`: some commit of the comparison has it as a parent."""
    if comparison.status in ("diverged", "behind"):
        return False
    return any(same_commit(parent, base) for commit in comparison.commits for parent in commit.parents)


def files_of(comparison: Comparison) -> list[FileDiff]:
    """The comparison's files that carry a patch (a binary or huge file has none and cannot be commented on)."""
    return from_file_diffs((f.path, f.patch, f.status) for f in comparison.files if f.patch)


async def read_text(client: Any, repo: str, path: str, ref: str, max_bytes: int) -> str | None:
    try:
        found = await client.get_file(repo, path, ref=ref, max_bytes=max_bytes)
    except IntegrationNotFound:
        return None
    except IntegrationRejected as exc:  # a directory or a binary file by that name
        if "binary" in str(exc) or "directory" in str(exc):
            return None
        raise
    return found.text


async def post_each(drafts: list[LineDraft], post: Any) -> list[PostOutcome]:
    """Post drafts one at a time; a draft the platform refuses records why, the others still go."""
    outcomes: list[PostOutcome] = []
    for draft in drafts:
        try:
            outcomes.append(await post(draft))
        except (IntegrationRejected, IntegrationNotFound) as exc:
            outcomes.append(str(exc.detail))
    return outcomes
