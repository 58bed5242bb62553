"""Reading a team's feedback sources since the last run: Discord channels and their active threads, Slack
channels with thread replies, thumbs-down chat answers, and GitHub issues with chosen labels.

Which channels and repositories are read is the connection's options (`channels` for Slack and Discord,
`feedback_repos` and `feedback_labels` for GitHub). Each channel keeps a cursor (a Discord snowflake, a Slack ts,
a user query id, an issue's creation time); the cursors move only after the run stored what was read, so a run
that fails part-way reads the same messages again next time, and storing skips those it already has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db.repositories import feedback as store
from app.errors import AdjutantError
from app.feedback.messages import IncomingMessage
from app.integrations.clients import client_for
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import Connections
from app.integrations.types import ChatMessage

log = logging.getLogger("adjutant.feedback")
SOURCE_KINDS = ("discord", "slack", "github")
REPLIES_MAX = 50
CHAT_SOURCE = "chat"


@dataclass
class Reading:
    """What one run read: the messages, how many per channel, where each cursor moves, what failed."""

    messages: list[IncomingMessage] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cursors: list[tuple[str, str, str]] = field(default_factory=list)  # (source, channel, position)
    errors: list[dict[str, str]] = field(default_factory=list)

    def failed(self, where: str, exc: AdjutantError) -> None:
        log.warning("feedback source %s failed: %s", where, exc.detail)
        self.errors.append({"source": where, "error": exc.detail[:300]})

    def add(self, key: str, found: list[IncomingMessage], cursor: tuple[str, str, str] | None) -> None:
        self.messages.extend(found)
        self.counts[key] = self.counts.get(key, 0) + len(found)
        if cursor is not None:
            self.cursors.append(cursor)


async def read_sources(team_id: int, connections: Connections, *, per_channel: int) -> Reading:
    """Every source of the team; a source that fails is recorded in `errors` and the others still read."""
    reading = Reading()
    await _read_chat_feedback(team_id, reading, per_channel)
    for connection in await connections.team_connections(team_id, SOURCE_KINDS):
        client = client_for(connection, connections.runtime)
        try:
            if connection.kind == "discord":
                await _read_discord(connection, client, reading, per_channel)
            elif connection.kind == "slack":
                await _read_slack(connection, client, reading, per_channel)
            elif connection.kind == "github":
                await _read_github(connection, client, reading, per_channel)
        except AdjutantError as exc:
            reading.failed(f"{connection.kind}:{connection.name}", exc)
        finally:
            await client.aclose()
    return reading


async def commit_cursors(team_id: int, reading: Reading) -> None:
    for source, channel, position in reading.cursors:
        await store.set_cursor(team_id, source, channel, position)


# --- Discord -------------------------------------------------------------------------------------------------


async def _read_discord(connection: ConnectionInfo, client: Any, reading: Reading, limit: int) -> None:
    channels = [str(c) for c in connection.options.get("channels") or []]
    guild = connection.options.get("guild_id")
    threads = []
    if guild and channels:
        threads = [t for t in await client.active_threads(str(guild)) if t.parent_id in channels]
    for channel, thread in [(c, None) for c in channels] + [(t.id, t.id) for t in threads]:
        try:
            await _read_discord_channel(connection, client, reading, limit, channel, thread)
        except AdjutantError as exc:
            reading.failed(f"discord:{channel}", exc)


async def _read_discord_channel(
    connection: ConnectionInfo, client: Any, reading: Reading, limit: int, channel: str, thread: str | None
) -> None:
    key = f"{connection.id}:{channel}"
    # "0" reads a channel from its first message: the first run sees the history, later ones what is new.
    after = await store.cursor(connection.team_id, "discord", key) or "0"
    if thread is None:
        found = await client.channel_messages(channel, after=after, limit=limit)
    else:
        found = await client.thread_messages(channel, after=after, limit=limit)
    people = [m for m in found if not m.is_bot and m.text.strip()]
    messages = [_chat_message("discord", connection, m, channel=channel) for m in people]
    last = max((m.id for m in found), key=int, default=None)
    reading.add(f"discord:{channel}", messages, ("discord", key, last) if last else None)


# --- Slack ---------------------------------------------------------------------------------------------------


async def _read_slack(connection: ConnectionInfo, client: Any, reading: Reading, limit: int) -> None:
    for channel in [str(c) for c in connection.options.get("channels") or []]:
        try:
            await _read_slack_channel(connection, client, reading, limit, channel)
        except AdjutantError as exc:
            reading.failed(f"slack:{channel}", exc)


async def _read_slack_channel(
    connection: ConnectionInfo, client: Any, reading: Reading, limit: int, channel: str
) -> None:
    key = f"{connection.id}:{channel}"
    oldest = await store.cursor(connection.team_id, "slack", key)
    found = await client.history(channel, oldest=oldest or "0.000000", limit=limit)
    messages = []
    for message in found:
        if message.is_bot or not message.text.strip():
            continue
        context = None
        if message.reply_count:
            # A question and its thread are one conversation: the replies travel as the root's context.
            replies = await client.replies(channel, message.id, limit=REPLIES_MAX)
            context = "\n".join(
                f"{r.author_name or r.author_id or 'someone'}: {r.text}"
                for r in replies
                if r.id != message.id and not r.is_bot
            )
        messages.append(_chat_message("slack", connection, message, channel=channel, context=context or None))
    last = max((m.id for m in found), key=float, default=None)
    reading.add(f"slack:{channel}", messages, ("slack", key, last) if last else None)


# --- GitHub --------------------------------------------------------------------------------------------------


async def _read_github(connection: ConnectionInfo, client: Any, reading: Reading, limit: int) -> None:
    labels = [str(label) for label in connection.options.get("feedback_labels") or []]
    for repo in [str(r) for r in connection.options.get("feedback_repos") or []]:
        try:
            await _read_github_repo(connection, client, reading, limit, repo, labels)
        except AdjutantError as exc:
            reading.failed(f"github:{repo}", exc)


async def _read_github_repo(
    connection: ConnectionInfo, client: Any, reading: Reading, limit: int, repo: str, labels: list[str]
) -> None:
    key = f"{connection.id}:{repo}"
    since = await store.cursor(connection.team_id, "github", key)
    issues = await client.list_issues(
        repo, labels=labels, since=datetime.fromisoformat(since) if since else None, state="all", limit=limit
    )
    messages = [
        IncomingMessage(
            source="github",
            external_id=issue.key,  # owner/name#number
            connection_id=connection.id,
            channel=repo,
            author_id=issue.reporter,
            author_name=issue.reporter,
            text=f"{issue.title}\n\n{issue.description}".strip(),
            url=issue.url,
            posted_at=issue.created_at,
        )
        for issue in issues
    ]
    stamps = [i.updated_at or i.created_at for i in issues if i.updated_at or i.created_at]
    last = max(stamps).isoformat() if stamps else None
    reading.add(f"github:{repo}", messages, ("github", key, last) if last else None)


# --- chat feedback -------------------------------------------------------------------------------------------


async def _read_chat_feedback(team_id: int, reading: Reading, limit: int) -> None:
    after = int(await store.cursor(team_id, CHAT_SOURCE, "answers") or 0)
    found = await store.downvoted_answers(team_id, after, limit)
    messages = [
        IncomingMessage(
            source="chat",
            external_id=f"query:{query.id}",
            channel="chat",
            author_id=f"user:{query.user_id}",  # type: ignore[attr-defined]
            author_name=name or None,
            text=query.text,
            context=f"The answer that was voted down:\n{answer}" if answer else None,
            posted_at=query.created_at,
        )
        for query, answer, name in found
        if query.text.strip()
    ]
    last = str(found[-1][0].id) if found else None
    reading.add("chat:answers", messages, (CHAT_SOURCE, "answers", last) if last else None)


def _chat_message(
    source: str, connection: ConnectionInfo, message: ChatMessage, *, channel: str, context: str | None = None
) -> IncomingMessage:
    return IncomingMessage(
        source=source,  # type: ignore[arg-type]
        external_id=f"{message.channel or channel}:{message.id}",
        connection_id=connection.id,
        channel=message.channel or channel,
        thread_id=message.thread_id,
        author_id=message.author_id,
        author_name=message.author_name,
        text=message.text,
        context=context,
        url=message.url,
        posted_at=message.created_at,
    )
