"""Bitbucket Cloud: line comments are inline comments on the new side (`inline.to`); the summary is a comment
edited in place; an outdated comment's thread is resolved. Bitbucket pull requests have no labels and its
Markdown has no committable suggestions, so a suggested change is shown as a plain code block."""

from __future__ import annotations

from app.auth.roles import Role
from app.integrations.bitbucket import BitbucketClient
from app.integrations.types import PullRequest, PullRequestComment
from app.review.diff import FileDiff, parse_unified_diff
from app.review.pr.platforms import (
    DIFF_MAX_BYTES,
    LineDraft,
    OutdatedState,
    Posted,
    PostOutcome,
    Reaction,
    ScmPlatform,
    post_each,
)


class BitbucketPlatform(ScmPlatform):
    kind = "bitbucket"
    can_label = False
    can_request_changes = True

    client: BitbucketClient
    compare_max_files = 1  # its comparison only tells whether the head descends; the diff comes whole

    async def bot_names(self) -> tuple[str, ...]:
        identity = await self.client.identity()
        return tuple(name for name in (identity.login, identity.name) if name)

    async def changes_since(self, repo: str, base: str, head: str) -> list[FileDiff] | None:
        if await self.descendant_comparison(repo, base, head) is None:
            return None
        return parse_unified_diff(await self.client.diff_between(repo, base, head, max_bytes=DIFF_MAX_BYTES))

    async def comments(self, repo: str, number: int) -> list[PullRequestComment]:
        return await self.client.list_comments(repo, number)

    async def post_comments(self, pr: PullRequest, drafts: list[LineDraft]) -> list[PostOutcome]:
        async def post(draft: LineDraft) -> Posted:
            comment = await self.client.create_comment(
                pr.repo, pr.number, draft.body, path=draft.anchor.path, line=draft.anchor.line
            )
            return Posted(id=comment.id, thread_id=comment.thread_id, url=comment.url)

        return await post_each(drafts, post)

    async def post_note(self, pr: PullRequest, body: str) -> Posted:
        comment = await self.client.create_comment(pr.repo, pr.number, body)
        return Posted(id=comment.id, thread_id=None, url=comment.url)

    async def edit_summary(self, pr: PullRequest, comment_id: str, body: str) -> Posted:
        comment = await self.client.update_comment(pr.repo, pr.number, comment_id, body)
        return Posted(id=comment.id, thread_id=None, url=comment.url)

    async def mark_outdated(self, pr: PullRequest, comment_id: str, thread_id: str | None, body: str) -> OutdatedState:
        await self.client.resolve_comment(pr.repo, pr.number, comment_id)
        return "RESOLVED"

    async def add_labels(self, pr: PullRequest, labels: list[str]) -> list[str]:
        raise NotImplementedError("bitbucket pull requests have no labels")  # can_label is False

    async def approve(self, pr: PullRequest) -> None:
        await self.client.approve(pr.repo, pr.number)

    async def request_changes(self, pr: PullRequest, body: str) -> None:
        await self.client.request_changes(pr.repo, pr.number)

    async def reactions(self, pr: PullRequest, comment_id: str) -> list[Reaction]:
        return []  # Bitbucket comments have no reactions

    async def permission(self, repo: str, login: str) -> Role | None:
        return None  # reading another user's repository permission needs workspace admin rights
