"""The review's notification jobs: `review.notify` (the Slack notice of one finished review, queued by the
review job), `review.stale_digest` and `review.weekly_report` (scheduled by a team, per repository).

Each posts through the team's Slack connection as a job, so a Slack outage is retried with backoff and never
fails the review; each message is posted once however often its job is retried (see `slack_post`)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from app.db.repositories import audit
from app.db.repositories import pr_reviews as reviews
from app.db.wire_types import WireStr
from app.errors import InvalidRequest, JobFailedPermanently, SecretUnreadable
from app.integrations.clients import client_for
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.jobs.interface import Job, JobHandlers
from app.jobs.queue import JobQueue
from app.review.notify.digest import build_digest, digest_marker, digest_message
from app.review.notify.notice import notice_message, posted_comments
from app.review.notify.report import MAX_DAYS, build_report, report_marker, report_message
from app.review.notify.slack_post import Delivered, SlackMessage, post_once, slack_connection
from app.review.notify.sources import open_repository, read_notify_rules
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings

log = logging.getLogger("adjutant.review")
NOTICE_KIND = "review.notify"
DIGEST_KIND = "review.stale_digest"
REPORT_KIND = "review.weekly_report"
ATTEMPTS = 6  # with the default backoff, a Slack outage of several minutes is ridden out
CHANNEL = r"^[#@]?[A-Za-z0-9._-]{1,80}$"


class NoticePayload(BaseModel):
    review_id: int = Field(ge=1)
    summary_url: str | None = Field(default=None, max_length=2000)
    rules_ref: str | None = Field(default=None, max_length=300)  # the branch the review read its rules from


class RepositoryPayload(BaseModel):
    connection: WireStr = Field(
        min_length=1, max_length=200, description="The team's GitHub, GitLab or Bitbucket connection."
    )
    repository: WireStr = Field(min_length=3, max_length=300, description="owner/name (GitLab: group/project).")
    channel: WireStr | None = Field(
        default=None, pattern=CHANNEL, description="Slack channel; default: [review.notify] slack_channel."
    )


class ReportPayload(RepositoryPayload):
    days: int = Field(default=7, ge=1, le=MAX_DAYS)


async def queue_notice(queue: JobQueue, team_id: int, outcome: Any) -> None:
    """After a review job: queue its notice (one per review run). The review has already posted; a queue
    that cannot take the notice now must not make the review fail, so the error is only logged."""
    if outcome.status != "COMPLETED" or outcome.run_id is None:
        return
    payload = NoticePayload(
        review_id=outcome.run_id,
        summary_url=outcome.summary_url,
        rules_ref=(outcome.pr.target_branch or outcome.pr.head_sha) if outcome.pr else None,
    )
    try:
        await queue.enqueue(NOTICE_KIND, payload.model_dump(), f"review-notice:{outcome.run_id}", team_id)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("the notice of review %s could not be queued: %s", outcome.run_id, exc)


class NotificationJobs:
    def __init__(self, settings: Settings, *, redis: Any | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self._connections: Connections | None = None

    def connections(self) -> Connections:
        if self._connections is None:
            runtime = IntegrationRuntime(
                self.settings.integrations, redis=self.redis, key_prefix=self.settings.redis.key_prefix
            )
            self._connections = Connections(load_secret_box(self.settings), runtime)
        return self._connections

    def register(self, handlers: JobHandlers) -> None:
        handlers.register(NOTICE_KIND, self.notice, max_attempts=ATTEMPTS)
        handlers.register(
            DIGEST_KIND, self.digest, max_attempts=ATTEMPTS, schedulable=True, payload_model=RepositoryPayload
        )
        handlers.register(
            REPORT_KIND, self.report, max_attempts=ATTEMPTS, schedulable=True, payload_model=ReportPayload
        )

    async def notice(self, job: Job) -> dict[str, Any]:
        payload = NoticePayload.model_validate(job.payload)
        run = await reviews.team_run(job.team_id, payload.review_id)
        if run is None:
            return {"posted": False, "reason": "the review is gone"}
        pull = run.pull
        connections = self.connections()
        try:
            scm = connections.open(pull.connection)
        except (SecretUnreadable, InvalidRequest) as exc:  # no key here, or a key that was removed
            raise JobFailedPermanently(f"the connection's credentials cannot be read here: {exc}") from None
        await connections.check_address(scm.base_url)
        client = client_for(scm, connections.runtime)
        try:
            rules = await read_notify_rules(client, pull.repo, payload.rules_ref)
        finally:
            await client.aclose()
        when = rules.notice_when()
        comments = posted_comments(await reviews.run_comments(run.id))
        if when == "never":
            return {"posted": False, "reason": "notices are off for this repository ([review.notify])"}
        if when == "findings" and not comments:
            return {"posted": False, "reason": "the review posted no comment (on = findings)"}
        message = notice_message(run, pull, comments, payload.summary_url)
        slack = await slack_connection(connections, job.team_id, rules.slack_connection)
        delivered = await post_once(connections, slack, rules.slack_channel or "", message, retried=job.attempt > 1)
        await self._audit(job, slack.name, "notice.posted", pull.url or f"{pull.repo}#{pull.number}", delivered, run.id)
        return _result(delivered)

    async def digest(self, job: Job) -> dict[str, Any]:
        payload = RepositoryPayload.model_validate(job.payload)
        connections = self.connections()
        async with open_repository(connections, job.team_id, payload.connection, payload.repository) as repo:
            channel = _channel(payload.channel, repo.rules.slack_channel)
            found = await build_digest(
                job.team_id,
                repo.connection.id,
                repo.client,
                repo.name,
                stale_after_days=repo.rules.stale_after_days,
            )
            slack_name = repo.rules.slack_connection
        message = digest_message(found, mark=digest_marker(str(job.id)))
        delivered, via = await self._post(job, slack_name, channel, message)
        await self._audit(job, via, "digest.posted", payload.repository, delivered)
        return _result(delivered) | {"stale": len(found.stale)}

    async def report(self, job: Job) -> dict[str, Any]:
        payload = ReportPayload.model_validate(job.payload)
        async with open_repository(self.connections(), job.team_id, payload.connection, payload.repository) as repo:
            channel = _channel(payload.channel, repo.rules.slack_channel)
            slack_name = repo.rules.slack_connection
        found = await build_report(job.team_id, payload.repository, days=payload.days)
        delivered, via = await self._post(job, slack_name, channel, report_message(found, mark=report_marker(job.id)))
        await self._audit(job, via, "report.posted", payload.repository, delivered)
        return _result(delivered) | {"reviews_run": found.reviews_run, "comments_posted": found.comments_posted}

    async def _post(
        self, job: Job, slack_name: str | None, channel: str, message: SlackMessage
    ) -> tuple[Delivered, str]:
        connections = self.connections()
        slack = await slack_connection(connections, job.team_id, slack_name)
        return await post_once(connections, slack, channel, message, retried=job.attempt > 1), slack.name

    async def _audit(
        self, job: Job, via: str, action: str, target: str, delivered: Delivered, review_id: int | None = None
    ) -> None:
        if delivered.again:
            return  # recorded by the attempt that posted it
        details: dict[str, Any] = {"channel": delivered.channel, "ts": delivered.ts, "job_id": job.id}
        if review_id is not None:
            details["review_id"] = review_id
        await audit.record(
            job.team_id,
            actor_type="bot",
            actor_name=f"adjutant via slack connection {via}",
            action=action,
            target_type="slack_message",
            target=delivered.url or target,
            reason=f"about {target}",
            details=details,
        )


def _channel(given: str | None, configured: str | None) -> str:
    channel = given or configured
    if not channel:
        raise JobFailedPermanently("no Slack channel: give channel, or set [review.notify] slack_channel")
    return channel


def _result(delivered: Delivered) -> dict[str, Any]:
    return {
        "posted": True,
        "channel": delivered.channel,
        "ts": delivered.ts,
        "url": delivered.url,
        "again": delivered.again,
    }
