"""Webhook deliveries as jobs: one kind per platform (`webhook.github`, ...), whose payload carries the event
type and the parsed body. A workflow takes the events it handles with `on(platform, event, handler)`; an event
no workflow took is recorded (its job's result says what arrived), so nothing a platform sent goes unseen."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.jobs.interface import Job, JobHandlers

log = logging.getLogger("adjutant.webhooks")
PLATFORMS = ("github", "gitlab", "bitbucket", "jira", "linear", "slack")
EventHandler = Callable[[Job], Awaitable[dict[str, Any] | None]]


def webhook_kind(platform: str) -> str:
    return f"webhook.{platform}"


def webhook_payload(
    *, platform: str, event: str, action: str | None, delivery: str, connection_id: int, body: Any, received_at: str
) -> dict[str, Any]:
    return {
        "platform": platform,
        "event": event,
        "action": action,
        "delivery": delivery,
        "connection_id": connection_id,
        "received_at": received_at,
        "body": body,
    }


class WebhookEvents:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], EventHandler] = {}

    def on(self, platform: str, event: str, handler: EventHandler) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown webhook platform {platform!r}")
        if (platform, event) in self._handlers:
            raise ValueError(f"{platform} {event} events already have a handler")
        self._handlers[(platform, event)] = handler

    def register_kinds(self, handlers: JobHandlers, *, max_attempts: int | None = None) -> None:
        for platform in PLATFORMS:
            handlers.register(webhook_kind(platform), self.dispatch, max_attempts=max_attempts)

    async def dispatch(self, job: Job) -> dict[str, Any] | None:
        platform = job.kind.partition(".")[2]
        event = str(job.payload.get("event", ""))
        handler = self._handlers.get((platform, event))
        if handler is not None:
            return await handler(job)
        return record_event(job, platform, event)


def record_event(job: Job, platform: str, event: str) -> dict[str, Any]:
    """What the record of an event no workflow took keeps: what it was, and where it came from."""
    log.info(
        "webhook %s %s (%s) for team %s recorded; no workflow takes it",
        platform,
        event,
        job.payload.get("action") or "-",
        job.team_id,
    )
    return {
        "recorded": True,
        "platform": platform,
        "event": event,
        "action": job.payload.get("action"),
        "delivery": job.payload.get("delivery"),
        "connection_id": job.payload.get("connection_id"),
    }
