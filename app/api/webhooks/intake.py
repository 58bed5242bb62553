"""A webhook delivery, from bytes to a queued job: find the connection its URL names, check the platform's
signature, read the event, refuse a replay, queue a `webhook.<platform>` job and answer at once.

Nothing is queued, and no delivery id is remembered, before the signature holds: an unsigned request can
neither start work nor burn the id of a real delivery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from app.api.webhooks import deliveries, signatures
from app.api.webhooks.replay import ReplayGuard
from app.errors import (
    AdjutantError,
    InvalidRequest,
    SecretUnreadable,
    WebhookNotFound,
    WebhookReplayed,
    WebhookSignatureInvalid,
)
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import PLATFORMS, webhook_kind, webhook_payload
from app.runtime import metrics

log = logging.getLogger("adjutant.webhooks")


class Target(Protocol):
    """The connection a hook id names (`app.integrations.connections.WebhookTarget`)."""

    team_id: int
    connection_id: int
    kind: str
    secret: str | None


TargetLookup = Callable[[str, str], Awaitable[Target | None]]
OUTCOMES = {
    WebhookNotFound: "unknown_hook",
    WebhookSignatureInvalid: "bad_signature",
    WebhookReplayed: "replayed",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    enveloped: bool = True


class WebhookIntake:
    def __init__(self, jobs: JobQueue, lookup: TargetLookup, replay: ReplayGuard) -> None:
        self.jobs = jobs
        self.lookup = lookup
        self.replay = replay

    async def receive(self, platform: str, hook_id: str, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            answer = await self._receive(platform, hook_id, headers, body)
        except AdjutantError as exc:
            outcome = next((name for kind, name in OUTCOMES.items() if isinstance(exc, kind)), None)
            if outcome is None:
                outcome = "unavailable" if exc.http_status >= 500 else "malformed"
            if platform in PLATFORMS:
                metrics.WEBHOOKS.labels(platform, outcome).inc()
            raise
        metrics.WEBHOOKS.labels(platform, "accepted" if answer.body.get("accepted", True) else "ignored").inc()
        return answer

    async def _receive(self, platform: str, hook_id: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if platform not in PLATFORMS:
            raise WebhookNotFound("no such webhook")
        target = await self._target(platform, hook_id)
        now = time.time()
        signatures.verify(platform, headers, body, target.secret or "", now)
        delivery = deliveries.read(platform, headers, body, now)
        if delivery.challenge is not None:  # Slack's url_verification: answered as Slack expects, not queued
            return Answer(200, {"challenge": delivery.challenge}, enveloped=False)
        if not await self.replay.first_time(platform, target.connection_id, delivery.delivery_id):
            raise WebhookReplayed("this delivery was received before")
        if not delivery.known:
            metrics.WEBHOOK_EVENTS_IGNORED.labels(platform, delivery.event[:64]).inc()
            return Answer(202, {"accepted": False, "event": delivery.event, "job_id": None})
        try:
            job = await self.jobs.enqueue(
                webhook_kind(platform),
                webhook_payload(
                    platform=platform,
                    event=delivery.event,
                    action=delivery.action,
                    delivery=delivery.delivery_id,
                    connection_id=target.connection_id,
                    body=delivery.body,
                    received_at=datetime.now(UTC).isoformat(),
                ),
                f"webhook:{platform}:{target.connection_id}:{delivery.delivery_id}",
                target.team_id,
            )
        except BaseException:
            await self.replay.forget(platform, target.connection_id, delivery.delivery_id)  # the sender retries
            raise
        return Answer(202, {"accepted": True, "event": delivery.event, "job_id": job.id})

    async def _target(self, platform: str, hook_id: str) -> Target:
        if not deliveries.ID_TEXT.match(hook_id):
            raise WebhookNotFound("no such webhook")
        try:
            target = await self.lookup(hook_id, platform)
        except (SecretUnreadable, InvalidRequest) as exc:
            # The secret cannot be opened on this server (no key, or a key that was removed).
            log.warning("webhook %s/%s: the connection's secret cannot be read: %s", platform, hook_id[:6], exc)
            raise WebhookSignatureInvalid("this connection's webhook secret cannot be read on this server") from None
        if target is None or target.kind != platform:
            raise WebhookNotFound("no such webhook")
        if not target.secret:
            raise WebhookSignatureInvalid("this connection has no webhook secret; set one to receive webhooks")
        return target
