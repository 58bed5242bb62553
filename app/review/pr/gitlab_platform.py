"""GitLab: every line comment is a resolvable discussion whose position names the merge request's diff SHAs
(an unchanged line by both its numbers); the summary is a note edited in place; an outdated comment's
discussion is resolved. GitLab's REST API can approve but has no "request changes"."""

from __future__ import annotations

from app.auth.roles import Role
from app.integrations.gitlab import GitLabClient
from app.integrations.types import PullRequest, PullRequestComment
from app.review.pr.permissions import gitlab_role
from app.review.pr.platforms import (
    LineDraft,
    OutdatedState,
    Posted,
    PostOutcome,
    Reaction,
    ScmPlatform,
    post_each,
)


class GitLabPlatform(ScmPlatform):
    kind = "gitlab"
    can_label = True
    can_request_changes = False

    client: GitLabClient

    async def comments(self, repo: str, number: int) -> list[PullRequestComment]:
        return await self.client.list_discussions(repo, number)

    async def post_comments(self, pr: PullRequest, drafts: list[LineDraft]) -> list[PostOutcome]:
        if not drafts:
            return []
        refs = await self.client.diff_refs(pr.repo, pr.number)

        async def post(draft: LineDraft) -> Posted:
            anchor = draft.anchor
            note = await self.client.start_discussion(
                pr.repo,
                pr.number,
                path=anchor.path,
                line=anchor.line,
                body=draft.body,
                refs=refs,
                old_path=anchor.old_path,
                old_line=anchor.old_line,
            )
            return Posted(id=note.id, thread_id=note.thread_id, url=note.url)

        return await post_each(drafts, post)

    async def post_note(self, pr: PullRequest, body: str) -> Posted:
        note = await self.client.add_note(pr.repo, pr.number, body)
        return Posted(id=note.id, thread_id=None, url=note.url)

    async def edit_summary(self, pr: PullRequest, comment_id: str, body: str) -> Posted:
        note = await self.client.update_note(pr.repo, pr.number, comment_id, body)
        return Posted(id=note.id, thread_id=None, url=note.url)

    async def mark_outdated(self, pr: PullRequest, comment_id: str, thread_id: str | None, body: str) -> OutdatedState:
        if not thread_id:
            await self.client.update_note(pr.repo, pr.number, comment_id, body)
            return "OUTDATED"
        await self.client.resolve_discussion(pr.repo, pr.number, thread_id)
        return "RESOLVED"

    async def reactions(self, pr: PullRequest, comment_id: str) -> list[Reaction]:
        if not comment_id.isdigit():
            return []
        found = await self.client.note_award_emoji(pr.repo, pr.number, comment_id)
        return [Reaction(login, name == "thumbsup") for login, name in found if name in ("thumbsup", "thumbsdown")]

    async def permission(self, repo: str, login: str) -> Role | None:
        return gitlab_role(await self.client.member_access_level(repo, login))

    async def add_labels(self, pr: PullRequest, labels: list[str]) -> list[str]:
        return await self.client.add_labels(pr.repo, pr.number, labels)

    async def approve(self, pr: PullRequest) -> None:
        await self.client.approve(pr.repo, pr.number, sha=pr.head_sha or "")

    async def request_changes(self, pr: PullRequest, body: str) -> None:
        raise NotImplementedError("gitlab has no request-changes call")  # can_request_changes is False
