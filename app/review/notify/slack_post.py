"""Posting one message once through the team's Slack connection.

`chat.postMessage` has no idempotency key, and a post whose answer was lost may have been posted. So each
message's text ends with a marker naming what it is about ("(Adjutant review #12)"); an attempt after the
first looks for the bot's message with that marker in the channel's recent history before posting again, so a
retried job posts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import AdjutantError, IntegrationAuthFailed, JobFailedPermanently
from app.integrations.clients import client_for
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import Connections

HISTORY_SCAN = 100  # messages read back on a retry: a notice is found if fewer than this came after it


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification and fallback text; ends with the marker
    blocks: list[dict[str, Any]]
    marker: str  # the message's identity for a retried post, e.g. "(Adjutant review #12)"


@dataclass(frozen=True)
class Delivered:
    channel: str
    ts: str
    url: str | None
    again: bool  # found from an earlier attempt, not posted now


async def slack_connection(connections: Connections, team_id: int, name: str | None) -> ConnectionInfo:
    """The named Slack connection of the team, or its only one; a permanent failure otherwise (no retry
    adds a connection)."""
    if name:
        try:
            found = await connections.connection(team_id, name)
        except AdjutantError as exc:  # unknown, another team's, or credentials this process cannot open
            raise JobFailedPermanently(f"the Slack connection {name!r} cannot be used: {exc.detail}") from None
        if found.kind != "slack":
            raise JobFailedPermanently(f"connection {name!r} is {found.kind}, not Slack")
        return found
    found_all = await connections.team_connections(team_id, ("slack",))
    if not found_all:
        raise JobFailedPermanently("the team has no Slack connection")
    if len(found_all) > 1:
        raise JobFailedPermanently(
            "the team has several Slack connections: name one in [review.notify] slack_connection"
        )
    return found_all[0]


async def post_once(
    connections: Connections, connection: ConnectionInfo, channel: str, message: SlackMessage, *, retried: bool
) -> Delivered:
    await connections.check_address(connection.base_url)
    client = client_for(connection, connections.runtime)
    try:
        if retried:
            earlier = await _find(client, channel, message.marker)
            if earlier is not None:
                return earlier
        posted = await client.post_message(channel, message.text, blocks=message.blocks)
        return Delivered(posted.channel, posted.id, posted.url, again=False)
    finally:
        await client.aclose()


async def _find(client: Any, channel: str, marker: str) -> Delivered | None:
    try:
        recent = await client.history(channel, limit=HISTORY_SCAN)
    except IntegrationAuthFailed:  # no history scope: posting again is the lesser harm than never posting
        return None
    for message in recent:
        if message.is_bot and (message.text or "").endswith(marker):
            return Delivered(message.channel, message.id, message.url, again=True)
    return None
