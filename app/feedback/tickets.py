"""Documentation tickets in the tracker: the description a draft becomes (title, summary, quotes with links,
evidence count, doc links, suggestion), creating it in Jira or Linear on approval, and commenting new
evidence on it later.

Which tracker is the team's choice: the connection named on approval, else the team's first Jira or Linear
connection. A Jira issue goes to the connection's `default_project`, a Linear one to its `default_team`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.models import DocTicket, FeedbackMessage
from app.db.repositories import feedback as store
from app.errors import DocTicketNotFound, DocTicketStateInvalid, InvalidRequest
from app.integrations.clients import client_for
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import Connections

TRACKERS = ("jira", "linear")
QUOTE_CHARS = 300
DESCRIPTION_MAX = 30_000
LABELS = ("documentation",)


@dataclass(frozen=True)
class Quote:
    text: str
    author: str | None
    url: str | None
    source: str


def quotes_of(messages: Sequence[FeedbackMessage], quoted: dict[int, str] | None = None) -> list[Quote]:
    """The quote of each message: the insight's where there is one, else the message's opening."""
    found = []
    for message in messages:
        text = (quoted or {}).get(message.id) or message.text
        text = " ".join(text.split())
        found.append(
            Quote(
                text=text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…",
                author=message.author_name or message.author_id,
                url=message.url,
                source=message.source,
            )
        )
    return found


def people_of(messages: Sequence[FeedbackMessage]) -> int:
    return len({(m.source, m.author_id or f"message:{m.id}") for m in messages})


def quote_lines(quotes: Sequence[Quote], limit: int) -> list[str]:
    lines = []
    for quote in quotes[:limit]:
        who = f" — {quote.author}" if quote.author else ""
        link = f" ([{quote.source}]({quote.url}))" if quote.url else f" ({quote.source})"
        lines.append(f"> {quote.text}{who}{link}")
    if len(quotes) > limit:
        lines.append(f"… and {len(quotes) - limit} more.")
    return lines


def description(ticket: DocTicket, quotes: Sequence[Quote], people: int, *, quote_limit: int) -> str:
    parts = [ticket.summary, "", f"**Evidence:** {len(quotes)} messages from {people} people.", ""]
    parts += quote_lines(quotes, quote_limit)
    pages = [p for p in ticket.pages or [] if isinstance(p, dict)]
    parts += ["", "**Documentation:**"]
    if pages:
        parts += [f"- [{p.get('title')}]({p.get('url')}) (relevance {float(p.get('score', 0)):.2f})" for p in pages]
    else:
        parts.append("- No page covers this yet: the missing page is the gap.")
    if ticket.suggestion:
        fence = "diff" if ticket.suggestion.startswith("---") else "markdown"
        parts += ["", "**Suggested edit:**", "", f"```{fence}", ticket.suggestion, "```"]
    parts += ["", "_Opened by Adjutant from developer feedback._"]
    text = "\n".join(parts)
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 20] + "\n… (cut)"


def evidence_comment(quotes: Sequence[Quote], *, reopened: bool, quote_limit: int) -> str:
    head = (
        f"New feedback on this topic after it was resolved ({len(quotes)} messages): reopened in Adjutant."
        if reopened
        else f"More feedback on this topic: {len(quotes)} new messages."
    )
    return "\n".join([head, "", *quote_lines(quotes, quote_limit)])


class TicketDesk:
    """Creates and comments on the team's tracker issues for documentation tickets."""

    def __init__(self, connections: Connections, *, quote_limit: int) -> None:
        self.connections = connections
        self.quote_limit = quote_limit

    async def tracker(self, team_id: int, reference: str | None) -> ConnectionInfo:
        if reference:
            connection = await self.connections.connection(team_id, reference)
            if connection.kind not in TRACKERS:
                raise InvalidRequest(
                    f"connection: {connection.name} is {connection.kind}; a Jira or Linear one is needed"
                )
            return connection
        found = await self.connections.team_connections(team_id, TRACKERS)
        if not found:
            raise InvalidRequest("the team has no Jira or Linear connection to open documentation tickets in")
        return found[0]

    async def quotes(self, ticket: DocTicket, messages: Sequence[FeedbackMessage]) -> list[Quote]:
        quoted: dict[int, str] = {}
        if ticket.cluster_id is not None:  # type: ignore[attr-defined]
            members = await store.cluster_evidence(ticket.team_id, [ticket.cluster_id])  # type: ignore[attr-defined]
            quoted = {message.id: insight.quote for insight, message in members.get(ticket.cluster_id, [])}  # type: ignore[attr-defined]
        return quotes_of(messages, quoted)

    async def publish(self, ticket: DocTicket, connection: ConnectionInfo) -> DocTicket:
        """Create the tracker issue of a draft and record it; every evidence message is then reported."""
        messages = await store.evidence(ticket.team_id, ticket.id)
        text = description(
            ticket, await self.quotes(ticket, messages), people_of(messages), quote_limit=self.quote_limit
        )
        client = client_for(connection, self.connections.runtime)
        try:
            if connection.kind == "jira":
                project = str(connection.options.get("default_project") or "")
                if not project:
                    raise InvalidRequest(f"connection {connection.name}: set the option default_project")
                issue = await client.create_issue(project, ticket.title, text, labels=LABELS)
            else:
                team_key = str(connection.options.get("default_team") or "")
                if not team_key:
                    raise InvalidRequest(f"connection {connection.name}: set the option default_team")
                issue = await client.create_issue(team_key, ticket.title, text)
        finally:
            await client.aclose()
        await store.mark_reported(ticket.team_id, ticket.id, [m.id for m in messages])
        return await store.update_ticket(
            ticket,
            status="open",
            tracker=connection.kind,
            connection_id=connection.id,
            external_id=issue.key,
            external_url=issue.url,
            external_status=issue.status,
        )

    async def report_evidence(self, ticket: DocTicket, *, reopened: bool) -> int:
        """Comment the evidence the tracker's issue does not show yet; how many messages that was."""
        fresh = await store.evidence(ticket.team_id, ticket.id, unreported_only=True)
        if not fresh or ticket.external_id is None or ticket.connection_id is None:  # type: ignore[attr-defined]
            return 0
        connection = await self._connection_of(ticket)
        body = evidence_comment(await self.quotes(ticket, fresh), reopened=reopened, quote_limit=self.quote_limit)
        client = client_for(connection, self.connections.runtime)
        try:
            await client.comment(ticket.external_id, body)
        finally:
            await client.aclose()
        await store.mark_reported(ticket.team_id, ticket.id, [m.id for m in fresh])
        return len(fresh)

    async def _connection_of(self, ticket: DocTicket) -> ConnectionInfo:
        for connection in await self.connections.team_connections(ticket.team_id, TRACKERS):
            if connection.id == ticket.connection_id:  # type: ignore[attr-defined]
                return connection
        raise InvalidRequest("the ticket's tracker connection is gone")


async def approve(
    desk: TicketDesk, team_id: int, ticket_id: int, user_id: int | None, tracker: str | None
) -> DocTicket:
    """Create a draft's tracker issue; only a draft can be approved."""
    ticket = await owned_ticket(team_id, ticket_id)
    if ticket.status != "draft":
        raise DocTicketStateInvalid(f"ticket {ticket.id} is {ticket.status}; only a draft can be approved")
    connection = await desk.tracker(team_id, tracker)
    if not await store.claim_draft(team_id, ticket.id, user_id, datetime.now(UTC)):
        raise DocTicketStateInvalid(f"ticket {ticket.id} is being approved already")
    await ticket.refresh_from_db()
    try:
        return await desk.publish(ticket, connection)
    except Exception:
        await store.release_draft(team_id, ticket.id)
        raise


async def reject(team_id: int, ticket_id: int) -> DocTicket:
    """A draft nobody wants: kept (so its topic is not drafted again), never sent to a tracker."""
    ticket = await owned_ticket(team_id, ticket_id)
    if ticket.status != "draft":
        raise DocTicketStateInvalid(f"ticket {ticket.id} is {ticket.status}; only a draft can be rejected")
    return await store.update_ticket(ticket, status="rejected")


async def owned_ticket(team_id: int, ticket_id: int) -> DocTicket:
    ticket = await store.team_ticket(team_id, ticket_id)
    if ticket is None:
        raise DocTicketNotFound("documentation ticket not found")
    return ticket
