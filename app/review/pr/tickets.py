"""The tickets a pull request is for: keys named in its title, branch and description (Jira `ABC-123`, Linear
`ENG-42`, or either's issue URL), fetched through the team's Jira and Linear connections so the business-logic
reviewer can hold the change against their acceptance criteria.

Bounded, and never a reason for a review to fail: at most MAX_TICKETS keys, all fetched together within
TIMEOUT_S; a ticket that is not found, refused or too slow is left out with a note the summary shows.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from app.errors import IntegrationError, IntegrationNotFound
from app.integrations.clients import client_for
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import Connections
from app.integrations.types import PullRequest, TrackerIssue

log = logging.getLogger("adjutant.review")
MAX_TICKETS = 3
TIMEOUT_S = 10.0
TRACKERS = ("jira", "linear")
Tracker = Literal["jira", "linear"]

KEY = r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,6}"
JIRA_URL = re.compile(rf"https?://(?P<host>[A-Za-z0-9.-]+)(?::\d+)?(?:/[^\s/]+)*?/browse/(?P<key>{KEY})\b")
LINEAR_URL = re.compile(rf"https?://linear\.app/[A-Za-z0-9_-]+/issue/(?P<key>{KEY})\b", re.IGNORECASE)
BARE_KEY = re.compile(rf"(?<![A-Za-z0-9_/.-])(?P<key>{KEY})(?![0-9A-Za-z])")
# Things written like keys that are standards and encodings, not tickets.
NOT_TICKETS = frozenset({"UTF", "ISO", "RFC", "CVE", "SHA", "TLS", "SSL", "HTTP", "GPT", "MD", "PEP", "CWE", "ES"})


@dataclass(frozen=True)
class TicketRef:
    key: str
    tracker: Tracker | None  # from a URL; None for a bare key, which any tracker connection may hold
    host: str | None = None  # a Jira URL's host, to pick the connection it belongs to


@dataclass
class LinkedTickets:
    found: list[TrackerIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a named ticket is not among them


def ticket_refs(title: str, branch: str | None, body: str, *, limit: int = MAX_TICKETS) -> list[TicketRef]:
    """The tickets the pull request names, in the order of title, branch, description; URLs before bare keys
    of the same text, each key once, at most `limit`."""
    refs: dict[str, TicketRef] = {}
    # Branches are often lower-case (`eng-42-fix-cache`, Linear's own suggestion) and use / as a separator.
    for text in (title, (branch or "").upper().replace("/", " "), body):
        for match in LINEAR_URL.finditer(text or ""):
            refs.setdefault(match["key"].upper(), TicketRef(match["key"].upper(), "linear"))
        for match in JIRA_URL.finditer(text or ""):
            refs.setdefault(match["key"], TicketRef(match["key"], "jira", match["host"].lower()))
        for match in BARE_KEY.finditer(text or ""):
            key = match["key"]
            if key.split("-")[0] not in NOT_TICKETS:
                refs.setdefault(key, TicketRef(key, None))
    return list(refs.values())[:limit]


class TicketSource:
    """Fetches a pull request's linked tickets through its team's tracker connections."""

    def __init__(self, connections: Connections, *, timeout_s: float = TIMEOUT_S, limit: int = MAX_TICKETS) -> None:
        self.connections = connections
        self.timeout_s = timeout_s
        self.limit = limit

    async def linked(self, team_id: int, pr: PullRequest) -> LinkedTickets:
        refs = ticket_refs(pr.title, pr.source_branch, pr.body, limit=self.limit)
        if not refs:
            return LinkedTickets()
        trackers = await self.connections.team_connections(team_id, TRACKERS)
        if not trackers:  # keys-looking text without a tracker to ask: nothing to say about it
            return LinkedTickets()
        tasks = [asyncio.create_task(self._fetch(ref, trackers)) for ref in refs]
        _, pending = await asyncio.wait(tasks, timeout=self.timeout_s)
        for task in pending:
            task.cancel()
        linked = LinkedTickets()
        for ref, task in zip(refs, tasks, strict=True):
            if task in pending:
                linked.notes.append(f"{ref.key}: not fetched within {self.timeout_s:g} s")
                continue
            issue, note = task.result()
            if issue is not None:
                linked.found.append(issue)
            elif note:
                linked.notes.append(f"{ref.key}: {note}")
        return linked

    async def _fetch(self, ref: TicketRef, trackers: list[ConnectionInfo]) -> tuple[TrackerIssue | None, str | None]:
        candidates = [c for c in trackers if _may_hold(c, ref)]
        if not candidates:
            return None, f"no {ref.tracker or 'tracker'} connection of the team serves {ref.host or 'it'}"
        reason = "not found"
        for connection in candidates:
            try:
                await self.connections.check_address(connection.base_url)
                client = client_for(connection, self.connections.runtime)
                try:
                    return await client.get_issue(ref.key, max_comments=0), None
                finally:
                    await client.aclose()
            except IntegrationNotFound:
                continue
            except IntegrationError as exc:
                reason = f"{connection.kind} connection {connection.name} failed ({exc.reason})"
                log.info("linked ticket %s through %s: %s", ref.key, connection.name, exc.detail)
            except ValueError as exc:  # an answer not in the shape expected: the ticket, not the review, is lost
                reason = f"{connection.kind} connection {connection.name} answered something unreadable"
                log.warning("linked ticket %s through %s: %s", ref.key, connection.name, exc.__class__.__name__)
        return None, reason


def _may_hold(connection: ConnectionInfo, ref: TicketRef) -> bool:
    if ref.tracker is None:
        return True
    if connection.kind != ref.tracker:
        return False
    return ref.host is None or (urlsplit(connection.base_url).hostname or "").lower() == ref.host
