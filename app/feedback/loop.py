"""Closing the loop: a tracker's webhook moves a documentation ticket's status, and a resolved ticket tells the
people whose feedback it came from (a reply in the Slack thread, a message in the Discord channel or thread).

Jira's `jira:issue_updated` is resolved when the issue's status category is "done"; Linear's `Issue` update
when its workflow state's type is "completed". Any other status of a resolved ticket's issue reopens it. Each
place is told once per resolution: a redelivered webhook finds the ticket already notified.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from app.db.models import DocTicket, FeedbackMessage
from app.db.repositories import feedback as store
from app.errors import AdjutantError
from app.integrations.clients import client_for
from app.integrations.connections import Connections
from app.jobs.interface import Job
from app.jobs.webhook_events import record_event

log = logging.getLogger("adjutant.feedback")
NOTIFY_KINDS = ("slack", "discord")
PLACES_MAX = 20


def jira_status(body: Any) -> tuple[str, str | None, bool] | None:
    """(issue key, status name, done) of a Jira issue update; None when the body is not one."""
    issue = body.get("issue") if isinstance(body, dict) else None
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if not isinstance(issue, dict) or not isinstance(issue.get("key"), str) or not isinstance(fields, dict):
        return None
    status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
    category = status.get("statusCategory") if isinstance(status.get("statusCategory"), dict) else {}
    return issue["key"], status.get("name"), category.get("key") == "done"


def linear_status(body: Any) -> tuple[str, str | None, bool] | None:
    """(identifier, state name, completed) of a Linear issue update; None when the body is not one."""
    if not isinstance(body, dict) or body.get("type") != "Issue" or body.get("action") != "update":
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    state = data.get("state") if isinstance(data.get("state"), dict) else {}
    if not isinstance(data.get("identifier"), str):
        return None
    return data["identifier"], state.get("name"), state.get("type") == "completed"


class ResolutionLoop:
    def __init__(self, connections: Connections, *, notify: bool) -> None:
        self.connections = connections
        self.notify = notify

    async def on_jira(self, job: Job) -> dict[str, Any]:
        return await self._update(job, "jira", jira_status(job.payload.get("body")))

    async def on_linear(self, job: Job) -> dict[str, Any]:
        return await self._update(job, "linear", linear_status(job.payload.get("body")))

    async def _update(self, job: Job, tracker: str, found: tuple[str, str | None, bool] | None) -> dict[str, Any]:
        # The record every webhook job keeps (what arrived, from where), plus what it did to a ticket.
        arrived = record_event(job, tracker, str(job.payload.get("event", "")))
        if found is None:
            return arrived | {"feedback": "not an issue update"}
        key, status_name, done = found
        ticket = await store.ticket_by_external(job.team_id, tracker, key)
        if ticket is None:
            return arrived | {"feedback": "not a documentation ticket", "issue": key}
        fields: dict[str, Any] = {"external_status": (status_name or "")[:100] or None}
        if done and ticket.status in ("open", "reopened"):
            fields |= {"status": "resolved", "resolved_at": datetime.now(UTC)}
        elif not done and ticket.status == "resolved":
            fields |= {"status": "open", "resolved_at": None, "notified_at": None}
        ticket = await store.update_ticket(ticket, **fields)
        told = 0
        if ticket.status == "resolved" and ticket.notified_at is None and self.notify:
            told = await self.tell_sources(ticket)
            ticket = await store.update_ticket(ticket, notified_at=datetime.now(UTC))
        log.info("documentation ticket %s (%s %s) is %s", ticket.id, tracker, key, ticket.status)
        return arrived | {"feedback": "updated", "ticket_id": ticket.id, "status": ticket.status, "notified": told}

    async def tell_sources(self, ticket: DocTicket) -> int:
        """One message in each Slack thread / Discord channel the ticket's evidence came from; how many were
        sent. A place that cannot be reached is logged and skipped: the others are still told."""
        places: dict[tuple[int, str, str | None], FeedbackMessage] = {}
        for message in await store.evidence(ticket.team_id, ticket.id):
            if message.source in NOTIFY_KINDS and message.connection_id and message.channel:  # type: ignore[attr-defined]
                where = _place(message)
                places.setdefault((message.connection_id, *where), message)  # type: ignore[attr-defined]
        if not places:
            return 0
        connections = {c.id: c for c in await self.connections.team_connections(ticket.team_id, NOTIFY_KINDS)}
        text = f"Thanks for the feedback: the documentation gap is fixed — {ticket.title}" + (
            f" ({ticket.external_url})" if ticket.external_url else ""
        )
        sent = 0
        for (connection_id, channel, thread), _ in list(places.items())[:PLACES_MAX]:
            connection = connections.get(connection_id)
            if connection is None:
                continue
            client = client_for(connection, self.connections.runtime)
            try:
                if connection.kind == "slack":
                    await client.post_message(channel, text, thread_ts=thread)
                else:
                    await client.post_message(thread or channel, text[:2000])
                sent += 1
            except AdjutantError as exc:
                log.warning("could not tell %s %s about ticket %s: %s", connection.kind, channel, ticket.id, exc.detail)
            finally:
                await client.aclose()
        return sent


def _place(message: FeedbackMessage) -> tuple[str, str | None]:
    """Where to answer a message: Slack replies in its thread (a root message starts one), Discord posts in the
    thread the message is in, else its channel."""
    channel = str(message.channel)
    if message.source == "slack":
        return channel, message.thread_id or message.external_id.rpartition(":")[2]
    return channel, message.thread_id
