"""The pull-request review as background work: webhook deliveries that ask for a review become one
`review.pull_request` job per (connection, repository, pull request, head); the job runs the review.

The idempotency key makes a redelivered webhook, or GitHub's `synchronize` and Bitbucket's `updated` for the
same push, one job; the review itself is idempotent too (a head reviewed and posted once is not again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from app.db.repositories import pr_reviews as store
from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRejected,
    InvalidRequest,
    JobFailedPermanently,
    SecretUnreadable,
)
from app.jobs.interface import Job, JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import WebhookEvents
from app.review.notify.jobs import queue_notice
from app.review.pr.command_jobs import PullRequestCommands
from app.review.pr.events import read_event
from app.review.pr.flow import PullRequestReview, ReviewBusy, ReviewOutcome, ReviewRequest
from app.review.pr.payloads import KIND, PullRequestReviewPayload, arrived, idempotency_key
from app.review.pr.platforms import Platform
from app.review.pr.service import review_kit
from app.runtime.settings import Settings

log = logging.getLogger("adjutant.review")
ATTEMPTS = 4
CONCURRENCY = 2  # reviews per worker at once: each runs several model calls in parallel already
BUSY_POLL_S = 2.0
WEBHOOK_EVENTS = (
    ("github", "pull_request"),
    ("gitlab", "merge_request"),
    ("bitbucket", "pullrequest:created"),
    ("bitbucket", "pullrequest:updated"),
)


class PullRequestReviewJobs:
    def __init__(self, settings: Settings, *, redis: Any | None, queue: Callable[[], JobQueue]) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = queue
        self.timeout_s = max(settings.jobs.default_timeout_s, settings.review.model_timeout_s * 3)

    def register(self, handlers: JobHandlers, webhooks: WebhookEvents) -> None:
        handlers.register(
            KIND,
            self.handle,
            max_attempts=ATTEMPTS,
            timeout_s=self.timeout_s,
            concurrency=CONCURRENCY,
        )
        for platform, event in WEBHOOK_EVENTS:
            webhooks.on(platform, event, self.on_webhook)
        commands = PullRequestCommands(self.settings, redis=self.redis, review=self.enqueue)
        commands.register(handlers, webhooks, self.queue)

    async def enqueue(self, team_id: int, payload: PullRequestReviewPayload) -> int:
        queued = await self.queue().enqueue(KIND, payload.model_dump(), idempotency_key(payload), team_id)
        return queued.id

    async def on_webhook(self, job: Job) -> dict[str, Any]:
        """A delivery that asks for a review queues one; any other says why it does not. Either way the job's
        result records what arrived, as for every webhook."""
        platform, event = str(job.payload.get("platform")), str(job.payload.get("event"))
        found = read_event(platform, event, job.payload.get("action"), job.payload.get("body"))
        if isinstance(found, str):
            return arrived(job) | {"reviewed": False, "reason": found}
        payload = PullRequestReviewPayload(
            connection_id=int(job.payload["connection_id"]),
            repo=found.repo,
            number=found.number,
            head_sha=found.head_sha,
            action=found.action,
        )
        queued = await self.enqueue(job.team_id, payload)
        return arrived(job) | {"reviewed": True, "review_job_id": queued, "repo": found.repo, "number": found.number}

    async def handle(self, job: Job) -> dict[str, Any]:
        payload = PullRequestReviewPayload.model_validate(job.payload)
        row = await store.team_connection(job.team_id, payload.connection_id)
        if row is None:
            return {"status": "SKIPPED", "reason": "the connection was removed"}
        async with review_kit(self.settings, redis=self.redis) as kit:
            try:
                connection = kit.connections.open(row)
            except (SecretUnreadable, InvalidRequest) as exc:  # no key here, or a key that was removed
                raise JobFailedPermanently(f"the connection's credentials cannot be read here: {exc}") from None
            request = ReviewRequest(
                team_id=job.team_id,
                connection=connection,
                repo=payload.repo,
                number=payload.number,
                head_sha=payload.head_sha,
                trigger="command" if payload.full else "webhook",
                posting=True,
                job_id=job.id,
                full=payload.full,
            )
            try:
                async with kit.platform(connection) as platform:
                    flow = PullRequestReview(self.settings, kit.model, lease_s=self.timeout_s + 60, tickets=kit.tickets)
                    outcome = await self._run_when_free(flow, request, platform)
            except (IntegrationNotFound, IntegrationAuthFailed, IntegrationRejected) as exc:
                # The pull request is gone, or the credentials may not do this: no retry changes that.
                raise JobFailedPermanently(f"{exc.code}: {exc.detail}") from None
        log.info("review of %s#%s: %s", payload.repo, payload.number, outcome.status)
        await queue_notice(self.queue(), job.team_id, outcome)
        return outcome.brief()

    async def _run_when_free(
        self, flow: PullRequestReview, request: ReviewRequest, platform: Platform
    ) -> ReviewOutcome:
        """Run the review, waiting while another run of the same pull request posts: a review takes minutes,
        longer than a few retries' backoff, and the push after it must still be reviewed (it reads the head
        again when its turn comes, so a superseded push is skipped then)."""
        deadline = time.monotonic() + self.timeout_s / 2
        while True:
            try:
                return await flow.run(request, platform)
            except ReviewBusy:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(BUSY_POLL_S)
