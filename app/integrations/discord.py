"""Discord REST v10 for a bot: channel and thread messages with snowflake pagination, active threads, posting.

Threads are channels in Discord: their messages are read like any channel's. Pages hold at most 100
messages and are addressed by message id (`before` / `after`); an incremental reader passes the last id it
saw as `after` and gets the newer messages oldest first. Rate limits are per route bucket plus a global one:
a 429's body says how long to wait (`retry_after`, seconds with decimals), as does `X-RateLimit-Reset-After`
when a bucket is spent; either becomes the connection's shared pause.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.errors import IntegrationRejected, IntegrationUnavailable
from app.integrations.connection import ConnectionInfo
from app.integrations.http import retry_after_seconds
from app.integrations.runtime import IntegrationRuntime, static_headers
from app.integrations.types import ChatMessage, ChatThread, Identity

SERVICE = "discord"
API_PREFIX = "/v10"
WEB_URL = "https://discord.com"
PAGE_MAX = 100  # Discord's cap on `limit` for channel messages
LIST_MAX = 1_000
GUILDS_PAGE = 200  # Discord's cap on `limit` for the bot's guilds
MESSAGE_CHARS = 8_000
CONTENT_MAX = 2_000  # Discord refuses longer message content
THREADS_MAX = 200
DEFAULT_RATE_PAUSE_S = 1.0
SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")


class DiscordClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        self._http = runtime.http(
            connection,
            auth=static_headers({"Authorization": f"Bot {connection.credential('token')}"}),
            base_url=connection.base_url + API_PREFIX,
            rate_policy=discord_pause,
        )
        self._guild_id: str | None = connection.options.get("guild_id")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def identity(self) -> Identity:
        """The bot user and how many servers it is in. Discord does not expose a bot's scopes or the
        permissions it was invited with through the API, so none are reported."""
        me = await self._get("/users/@me") or {}
        guilds = await self._get("/users/@me/guilds", {"limit": GUILDS_PAGE})
        count = len(guilds) if isinstance(guilds, list) else 0
        servers = f"{count}+" if count >= GUILDS_PAGE else str(count)
        username = str(me.get("username") or me.get("id") or "")
        discriminator = me.get("discriminator")
        login = f"{username}#{discriminator}" if discriminator and discriminator != "0" else username
        kind = "bot" if me.get("bot") else "user (not a bot token)"
        return Identity(
            login=login,
            name=me.get("global_name") or username,
            scopes=[],
            detail=f"Discord {kind} {me.get('id')} in {servers} servers; Discord does not expose a bot's scopes",
        )

    async def channel_messages(
        self,
        channel_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 50,
        guild_id: str | None = None,
    ) -> list[ChatMessage]:
        """Up to `limit` messages: newer than `after` oldest first, or older than `before` (default: the
        latest) newest first. `guild_id` (or the connection's `guild_id` option) gives the messages a URL."""
        return await self._messages(channel_id, after=after, before=before, limit=limit, guild_id=guild_id)

    async def thread_messages(
        self,
        thread_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 50,
        guild_id: str | None = None,
    ) -> list[ChatMessage]:
        """A thread's messages, paged like a channel's (a thread is a channel), each with `thread_id` set."""
        return await self._messages(
            thread_id, after=after, before=before, limit=limit, guild_id=guild_id, thread_id=thread_id
        )

    async def active_threads(self, guild_id: str) -> list[ChatThread]:
        """The server's active (unarchived) threads the bot can see."""
        _check_snowflake(guild_id, "server")
        body = await self._get(f"/guilds/{guild_id}/threads/active") or {}
        threads = body.get("threads") if isinstance(body, dict) else None
        return [_thread(t, guild_id) for t in (threads or [])[:THREADS_MAX] if isinstance(t, dict) and t.get("id")]

    async def post_message(self, channel_id: str, content: str, *, guild_id: str | None = None) -> ChatMessage:
        """Post `content` (Markdown, at most 2000 characters). Mentions in it do not ping anyone: text
        written by a model must not page a whole server with @everyone."""
        _check_snowflake(channel_id, "channel")
        if not content.strip() or len(content) > CONTENT_MAX:
            raise IntegrationRejected(f"a Discord message needs 1 to {CONTENT_MAX} characters", service=SERVICE)
        response = await self._http.request(
            "POST",
            f"/channels/{channel_id}/messages",
            json_body={"content": content, "allowed_mentions": {"parse": []}},
        )
        await self._note_bucket(response)
        message = _json(response)
        if not isinstance(message, dict) or not message.get("id"):
            raise IntegrationUnavailable("discord answered the post without a message", service=SERVICE)
        return _message(message, channel_id, guild_id or self._guild_id, None)

    # --- calls -----------------------------------------------------------------------------------------------

    async def _messages(
        self,
        channel_id: str,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        guild_id: str | None,
        thread_id: str | None = None,
    ) -> list[ChatMessage]:
        _check_snowflake(channel_id, "channel")
        if after is not None and before is not None:
            raise IntegrationRejected("discord pages by either `after` or `before`, not both", service=SERVICE)
        for value in (after, before):
            if value is not None:
                _check_snowflake(value, "message")
        wanted = max(1, min(limit, LIST_MAX))
        forward = after is not None
        cursor = after if forward else before
        found: list[dict[str, Any]] = []
        while len(found) < wanted:
            size = min(PAGE_MAX, wanted - len(found))
            params: dict[str, Any] = {"limit": size}
            if cursor is not None:
                params["after" if forward else "before"] = cursor
            page = await self._get(f"/channels/{channel_id}/messages", params)
            page = [m for m in page if isinstance(m, dict) and m.get("id")] if isinstance(page, list) else []
            # Discord sends each page newest first whichever way it pages; order by id to walk either way.
            page.sort(key=lambda m: int(m["id"]), reverse=not forward)
            found.extend(page)
            if len(page) < size:
                break
            cursor = page[-1]["id"]
        guild = guild_id or self._guild_id
        return [_message(m, channel_id, guild, thread_id) for m in found[:wanted]]

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._http.request("GET", path, params=params)
        await self._note_bucket(response)
        return _json(response)

    async def _note_bucket(self, response: httpx.Response) -> None:
        """A bucket this call emptied: the next calls wait `X-RateLimit-Reset-After` (a duration, unlike
        `X-RateLimit-Reset`, so it does not depend on our clock agreeing with Discord's)."""
        if response.headers.get("x-ratelimit-remaining") != "0":
            return
        wait = _seconds(response.headers.get("x-ratelimit-reset-after"))
        if wait:
            await self._http.limiter.pause(wait)


def discord_pause(response: httpx.Response) -> float | None:
    """How long a 429 asks to wait: the body's `retry_after`, else `X-RateLimit-Reset-After`, else
    `Retry-After` (whole seconds, rounded up by Discord, so the least precise)."""
    if response.status_code != 429:
        return None
    retry_after = None
    try:
        body = response.json()
        if isinstance(body, dict):
            retry_after = _seconds(body.get("retry_after"))
    except ValueError:
        pass
    return (
        retry_after
        or _seconds(response.headers.get("x-ratelimit-reset-after"))
        or retry_after_seconds(response)
        or DEFAULT_RATE_PAUSE_S
    )


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        raise IntegrationUnavailable("discord answered with something that is not JSON", service=SERVICE) from None


def _check_snowflake(value: str, what: str) -> None:
    if not isinstance(value, str) or not SNOWFLAKE.match(value):
        raise IntegrationRejected(f"a Discord {what} id is a number (a snowflake)", service=SERVICE)


def _message(message: dict[str, Any], channel_id: str, guild_id: str | None, thread_id: str | None) -> ChatMessage:
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    thread = message.get("thread") if isinstance(message.get("thread"), dict) else {}
    channel = str(message.get("channel_id") or channel_id)
    guild = message.get("guild_id") or guild_id
    content = str(message.get("content") or "")
    return ChatMessage(
        id=str(message["id"]),
        channel=channel,
        # A message that started a thread carries it; the thread's id is then the message's own.
        thread_id=thread_id or (str(thread["id"]) if thread.get("id") else None),
        author_id=author.get("id"),
        author_name=author.get("global_name") or author.get("username"),
        is_bot=bool(author.get("bot")),
        text=content if len(content) <= MESSAGE_CHARS else content[: MESSAGE_CHARS - 1] + "…",
        created_at=message.get("timestamp"),
        url=f"{WEB_URL}/channels/{guild}/{channel}/{message['id']}" if guild else None,
        reply_count=int(thread.get("message_count") or 0),
    )


def _thread(thread: dict[str, Any], guild_id: str) -> ChatThread:
    metadata = thread.get("thread_metadata") if isinstance(thread.get("thread_metadata"), dict) else {}
    return ChatThread(
        id=str(thread["id"]),
        parent_id=thread.get("parent_id"),
        name=str(thread.get("name") or ""),
        message_count=thread.get("message_count"),
        archived=bool(metadata.get("archived")),
        created_at=metadata.get("create_timestamp"),
        url=f"{WEB_URL}/channels/{thread.get('guild_id') or guild_id}/{thread['id']}",
    )
