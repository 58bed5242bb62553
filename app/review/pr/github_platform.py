"""GitHub: line comments go in one review (event COMMENT) anchored by `line`/`side` (a range with
`start_line`); the summary is an issue comment edited in place. REST cannot resolve a review thread, so an
outdated comment's thread is resolved through GraphQL (`resolveReviewThread`); when GraphQL is refused (a token
without the scope, an App without pull-request write) the comment is marked instead, by editing its text."""

from __future__ import annotations

import logging

from app.auth.roles import Role
from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected
from app.integrations.github import GitHubClient
from app.integrations.github_graphql import ReviewThread
from app.integrations.types import PullRequest, PullRequestComment, ReviewCommentDraft
from app.review.pr.bodies import fingerprints_in
from app.review.pr.permissions import github_role
from app.review.pr.platforms import (
    LineDraft,
    OutdatedState,
    Posted,
    PostOutcome,
    Reaction,
    ScmPlatform,
    post_each,
)

log = logging.getLogger("adjutant.review")


class GitHubPlatform(ScmPlatform):
    kind = "github"
    can_label = True
    can_request_changes = True

    client: GitHubClient

    def __init__(self, client: GitHubClient) -> None:
        super().__init__(client)
        self._threads: dict[tuple[str, int], dict[int, ReviewThread]] = {}
        self._graphql_refused: str | None = None  # once refused, this run marks instead of asking again

    async def comments(self, repo: str, number: int) -> list[PullRequestComment]:
        top = await self.client.list_issue_comments(repo, number)
        lines = await self.client.list_review_comments(repo, number)
        threads = await self._known_threads(repo, number) if lines else {}
        on_lines = []
        for c in lines:
            thread = threads.get(c.id)
            on_lines.append(
                PullRequestComment(
                    id=str(c.id),
                    body=c.body,
                    author=c.author,
                    path=c.path,
                    line=c.line,
                    url=c.url,
                    thread_id=thread.id if thread else None,
                    resolved=bool(thread and thread.resolved),
                )
            )
        return top + on_lines

    async def _known_threads(self, repo: str, number: int) -> dict[int, ReviewThread]:
        """Review threads by their first comment's id — REST never says whether a thread is resolved, and
        feedback counts a thread a person resolved without changing its lines. Empty when GraphQL is refused."""
        key = (repo, number)
        if key not in self._threads and self._graphql_refused is None:
            try:
                self._threads[key] = await self.client.review_threads(repo, number)
            except (IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected) as exc:
                self._graphql_refused = str(exc.detail)
                log.info("github would not list review threads of %s#%s (%s)", repo, number, exc.detail)
        return self._threads.get(key, {})

    async def post_comments(self, pr: PullRequest, drafts: list[LineDraft]) -> list[PostOutcome]:
        if not drafts:
            return []
        head = pr.head_sha or ""
        try:
            return await self._in_one_review(pr, head, drafts)
        except IntegrationRejected:
            # GitHub refuses the whole review for one line it cannot place: post them one by one instead.
            return await post_each(drafts, lambda draft: self._alone(pr, head, draft))

    async def _in_one_review(self, pr: PullRequest, head: str, drafts: list[LineDraft]) -> list[PostOutcome]:
        count = len(drafts)
        body = f"{count} new comment{'s' if count != 1 else ''} on `{head[:12]}`; the summary comment has the rest."
        review = await self.client.create_review(
            pr.repo, pr.number, commit_sha=head, body=body, event="COMMENT", comments=[_draft(d) for d in drafts]
        )
        return await self._placed(pr, drafts, review.id)

    async def _alone(self, pr: PullRequest, head: str, draft: LineDraft) -> Posted:
        body = f"1 new comment on `{head[:12]}`; the summary comment has the rest."
        review = await self.client.create_review(
            pr.repo, pr.number, commit_sha=head, body=body, event="COMMENT", comments=[_draft(draft)]
        )
        (placed,) = await self._placed(pr, [draft], review.id)
        if isinstance(placed, str):
            raise IntegrationRejected(placed, service="github")
        return placed

    async def _placed(self, pr: PullRequest, drafts: list[LineDraft], review_id: int) -> list[PostOutcome]:
        """The created comments' ids, found by the fingerprint marker each body carries."""
        by_fingerprint: dict[str, Posted] = {}
        for comment in await self.client.list_review_comments(pr.repo, pr.number):
            if comment.review_id == review_id:
                for fingerprint in fingerprints_in(comment.body):
                    by_fingerprint[fingerprint] = Posted(id=str(comment.id), thread_id=None, url=comment.url)
        return [
            by_fingerprint.get(d.finding.fingerprint, "github accepted the review but did not list this comment")
            for d in drafts
        ]

    async def post_note(self, pr: PullRequest, body: str) -> Posted:
        comment = await self.client.create_issue_comment(pr.repo, pr.number, body)
        return Posted(id=comment.id, thread_id=None, url=comment.url)

    async def edit_summary(self, pr: PullRequest, comment_id: str, body: str) -> Posted:
        comment = await self.client.update_issue_comment(pr.repo, int(comment_id), body)
        return Posted(id=comment.id, thread_id=None, url=comment.url)

    async def mark_outdated(self, pr: PullRequest, comment_id: str, thread_id: str | None, body: str) -> OutdatedState:
        if self._graphql_refused is None:
            try:
                if await self._resolve(pr, int(comment_id), thread_id):
                    return "RESOLVED"
            except (IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected) as exc:
                self._graphql_refused = str(exc.detail)
                log.info("github would not resolve review threads of %s (%s); marking them", _ref(pr), exc.detail)
        await self.client.update_review_comment(pr.repo, int(comment_id), body)
        return "OUTDATED"

    async def _resolve(self, pr: PullRequest, comment_id: int, thread_id: str | None) -> bool:
        """Resolve the thread the comment starts; False when GitHub lists no thread for it."""
        if thread_id is None:
            key = (pr.repo, pr.number)
            if key not in self._threads:  # one query per run maps every comment to its thread
                self._threads[key] = await self.client.review_threads(pr.repo, pr.number)
            thread = self._threads[key].get(comment_id)
            if thread is None:
                return False
            if thread.resolved:  # someone resolved it already
                return True
            thread_id = thread.id
        return await self.client.resolve_review_thread(thread_id)

    async def reactions(self, pr: PullRequest, comment_id: str) -> list[Reaction]:
        if not comment_id.isdigit():
            return []
        found = await self.client.review_comment_reactions(pr.repo, int(comment_id))
        return [Reaction(login, content == "+1") for login, content in found if content in ("+1", "-1")]

    async def permission(self, repo: str, login: str) -> Role | None:
        return github_role(await self.client.collaborator_permission(repo, login))

    async def add_labels(self, pr: PullRequest, labels: list[str]) -> list[str]:
        return await self.client.add_labels(pr.repo, pr.number, labels)

    async def approve(self, pr: PullRequest) -> None:
        await self.client.create_review(pr.repo, pr.number, commit_sha=pr.head_sha or "", body="", event="APPROVE")

    async def request_changes(self, pr: PullRequest, body: str) -> None:
        await self.client.create_review(
            pr.repo, pr.number, commit_sha=pr.head_sha or "", body=body, event="REQUEST_CHANGES"
        )


def _draft(draft: LineDraft) -> ReviewCommentDraft:
    anchor = draft.anchor
    if anchor.end_line > anchor.line:
        return ReviewCommentDraft(
            path=anchor.path,
            line=anchor.end_line,
            side="RIGHT",
            start_line=anchor.line,
            start_side="RIGHT",
            body=draft.body,
        )
    return ReviewCommentDraft(path=anchor.path, line=anchor.line, side="RIGHT", body=draft.body)


def _ref(pr: PullRequest) -> str:
    return f"{pr.repo}#{pr.number}"
