"""`/adjutant` commands in pull-request comments as background work: a comment event that carries a command
becomes one `review.pr_command` job per comment; the job checks who may command the bot through this
connection, then reviews again, answers the question, or dismisses the named comment, and audits it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.db.models import PrReviewComment
from app.db.repositories import audit
from app.db.repositories import pr_reviews as store
from app.db.repositories import review_feedback as signals
from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRejected,
    InvalidRequest,
    JobFailedPermanently,
    SecretUnreadable,
)
from app.integrations.connection import ConnectionInfo
from app.integrations.types import PullRequest
from app.jobs.interface import Job, JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import WebhookEvents
from app.review.diff import parse_unified_diff
from app.review.pr.bodies import ignored_body
from app.review.pr.commands import FINGERPRINT_PREFIX, Command, parse_command, read_comment_event
from app.review.pr.feedback import signal
from app.review.pr.payloads import COMMAND_KIND, CommandPayload, PullRequestReviewPayload, arrived, command_key
from app.review.pr.permissions import command_refusal
from app.review.pr.platforms import Platform
from app.review.pr.questions import answer
from app.review.pr.service import ReviewKit, review_kit
from app.runtime.settings import Settings

log = logging.getLogger("adjutant.review")
COMMENT_EVENTS = (("github", "issue_comment"), ("gitlab", "note"), ("bitbucket", "pullrequest:comment_created"))
ATTEMPTS = 3
QUOTE_MAX = 300
EnqueueReview = Callable[[int, PullRequestReviewPayload], Awaitable[int]]


class PullRequestCommands:
    def __init__(self, settings: Settings, *, redis: Any | None, review: EnqueueReview) -> None:
        self.settings = settings
        self.redis = redis
        self.review = review
        self.queue: Callable[[], JobQueue] | None = None

    def register(self, handlers: JobHandlers, webhooks: WebhookEvents, queue: Callable[[], JobQueue]) -> None:
        self.queue = queue
        timeout = max(self.settings.jobs.default_timeout_s, self.settings.review.model_timeout_s + 60)
        handlers.register(COMMAND_KIND, self.handle, max_attempts=ATTEMPTS, timeout_s=timeout, concurrency=2)
        for platform, event in COMMENT_EVENTS:
            webhooks.on(platform, event, self.on_comment)

    async def on_comment(self, job: Job) -> dict[str, Any]:
        """A new comment that starts with a command queues its job; any other comment is only recorded."""
        found = read_comment_event(
            str(job.payload.get("platform")),
            str(job.payload.get("event")),
            job.payload.get("action"),
            job.payload.get("body"),
        )
        if isinstance(found, str):
            return arrived(job) | {"command": None, "reason": found}
        command = parse_command(found.text)
        if command is None:
            return arrived(job) | {"command": None, "reason": "the comment has no /adjutant command"}
        payload = CommandPayload(
            connection_id=int(job.payload["connection_id"]),
            repo=found.repo,
            number=found.number,
            comment_id=found.comment_id,
            author=found.author,
            text=found.text,
        )
        assert self.queue is not None
        queued = await self.queue().enqueue(COMMAND_KIND, payload.model_dump(), command_key(payload), job.team_id)
        return arrived(job) | {"command": command.verb, "command_job_id": queued.id}

    async def handle(self, job: Job) -> dict[str, Any]:
        payload = CommandPayload.model_validate(job.payload)
        command = parse_command(payload.text)
        row = await store.team_connection(job.team_id, payload.connection_id)
        if command is None or row is None:
            return {"obeyed": False, "reason": "no command" if command is None else "the connection was removed"}
        async with review_kit(self.settings, redis=self.redis) as kit:
            try:
                connection = kit.connections.open(row)
            except (SecretUnreadable, InvalidRequest) as exc:  # no key here, or a key that was removed
                raise JobFailedPermanently(f"the connection's credentials cannot be read here: {exc}") from None
            try:
                async with kit.platform(connection) as platform:
                    return await self._obey(kit, platform, connection, job.team_id, payload, command)
            except (IntegrationNotFound, IntegrationAuthFailed, IntegrationRejected) as exc:
                raise JobFailedPermanently(f"{exc.code}: {exc.detail}") from None

    async def _obey(
        self,
        kit: ReviewKit,
        platform: Platform,
        connection: ConnectionInfo,
        team_id: int,
        payload: CommandPayload,
        command: Command,
    ) -> dict[str, Any]:
        pr = await platform.pull_request(payload.repo, payload.number)
        by = payload.author
        if by.casefold() in {name.casefold() for name in await platform.bot_names()}:
            return {"obeyed": False, "reason": "the bot's own comment"}
        allowed = await store.connection_settings(connection.id)
        mode = allowed.commands_from if allowed is not None else "author"
        actor = CommandActor(team_id, connection, by, command, pr)
        refused = await command_refusal(platform, pr, command.verb, by, mode)
        if refused is not None:
            await actor.event("command.refused", refused)
            if mode != "nobody":  # commands are off altogether: stay silent
                await platform.post_note(pr, f"@{by} {refused}")
            return {"obeyed": False, "reason": refused}
        if command.verb == "review":
            review = PullRequestReviewPayload(
                connection_id=connection.id,
                repo=pr.repo,
                number=pr.number,
                head_sha=pr.head_sha or "0" * 40,
                action="command",
                full=True,
                comment_id=payload.comment_id,
            )
            review_job = await self.review(team_id, review)
            await actor.event("command.review", f"a review of the whole pull request at {review.head_sha[:12]}")
            return {"obeyed": True, "verb": "review", "review_job_id": review_job}
        if command.verb == "ignore":
            return await self._ignore(platform, connection, pr, command, actor)
        question = command.argument
        if not question:
            await platform.post_note(pr, f"@{by} ask a question after `/adjutant ask`.")
            return {"obeyed": False, "reason": "no question"}
        files = parse_unified_diff(await platform.pull_request_diff(pr.repo, pr.number))
        text = await answer(kit.model, pr, files, question)
        quoted = "\n".join("> " + line for line in question[:QUOTE_MAX].splitlines())
        posted = await platform.post_note(pr, f"{quoted}\n\n@{by} {text}")
        await actor.event("command.answered", "answered in a comment", {"comment": posted.url or posted.id})
        return {"obeyed": True, "verb": "ask", "comment_id": posted.id}

    async def _ignore(
        self, platform: Platform, connection: ConnectionInfo, pr: PullRequest, command: Command, actor: CommandActor
    ) -> dict[str, Any]:
        prefix = command.argument.split()[0].strip("`").lower() if command.argument else ""
        pull = await store.find_pull(connection.id, pr.repo, pr.number)
        matches = await store.find_posted(pull.id, prefix) if pull and FINGERPRINT_PREFIX.match(prefix) else []
        if len(matches) != 1:
            why = "names none of my open comments" if not matches else "names more than one of my comments"
            await platform.post_note(pr, f"@{actor.by} `{prefix or '(nothing)'}` {why}; use the id shown under one.")
            return {"obeyed": False, "reason": why}
        comment = matches[0]
        body = ignored_body(
            severity=comment.severity,
            category=comment.category,
            title=comment.title,
            fingerprint=comment.fingerprint,
            by=actor.by,
            platform=platform.kind,
        )
        await platform.mark_outdated(pr, comment.platform_id or "", comment.thread_id, body)
        await store.update_comment(comment, state="IGNORED", state_reason=f"ignored by {actor.by}")
        await signals.record(actor.team_id, signal(platform.kind, pr.repo, comment, "ignored", actor.by, useful=False))
        await actor.event("comment.ignored", f"/adjutant ignore by {actor.by}", _comment_details(comment))
        return {"obeyed": True, "verb": "ignore", "fingerprint": comment.fingerprint}


class CommandActor:
    """The person who wrote the command, as the platform names them (not a member of the team)."""

    def __init__(self, team_id: int, connection: ConnectionInfo, by: str, command: Command, pr: PullRequest) -> None:
        self.team_id, self.connection, self.by, self.command, self.pr = team_id, connection, by, command, pr

    async def event(self, action: str, reason: str, details: dict[str, Any] | None = None) -> None:
        await audit.record(
            self.team_id,
            actor_type="user",
            actor_name=f"{self.connection.kind} user {self.by}",
            action=action,
            target_type="pull_request",
            target=self.pr.url or f"{self.pr.repo}#{self.pr.number}",
            reason=reason,
            details={"command": self.command.verb, "connection": self.connection.name, **(details or {})},
        )


def _comment_details(comment: PrReviewComment) -> dict[str, Any]:
    return {"fingerprint": comment.fingerprint, "path": comment.path, "line": comment.line}
