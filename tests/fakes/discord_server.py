"""A loopback Discord REST API v10 for a bot: `Authorization: Bot <token>`, message objects with snowflake
ids, `before` / `after` / `limit` paging (pages newest first, at most 100), threads as channels, JSON error
bodies with Discord's codes, and the rate-limit headers (`X-RateLimit-*`) on every answer; a 429 in
Discord's shape is built by `rate_limited()` for `fail_next`.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

DISCORD_EPOCH_MS = 1_420_070_400_000
PREFIX = "/api/v10"


def snowflake_time(snowflake: str) -> datetime:
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


class FakeDiscord(FakeService):
    def __init__(self, *, token: str = "bot-token") -> None:  # noqa: S107 - the fake's own test token
        self.token = token
        self.guild_id = "81384788765712384"
        self.bot = {
            "id": "1100000000000000001",
            "username": "adjutant",
            "discriminator": "0",
            "bot": True,
            "global_name": "Adjutant",
            "avatar": None,
        }
        self.guilds = [{"id": self.guild_id, "name": "Acme", "icon": None, "owner": False, "permissions": "68608"}]
        # channel id -> {"meta": channel object, "messages": oldest first}
        self.channels: dict[str, dict[str, Any]] = {}
        self.forbidden: set[str] = set()
        self.remaining = 10_000  # of the current bucket; tests lower it to see a spent bucket
        self.reset_after = 1.0
        self._sequence = itertools.count(1)
        self.add_channel("175928847299117063", name="general")
        super().__init__()

    # --- state for tests -------------------------------------------------------------------------------------

    def snowflake(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (next(self._sequence) & 0xFFF))

    def add_channel(self, channel_id: str, *, name: str, parent_id: str | None = None) -> dict[str, Any]:
        meta = {"id": channel_id, "type": 11 if parent_id else 0, "guild_id": self.guild_id, "name": name}
        if parent_id:
            meta |= {
                "parent_id": parent_id,
                "owner_id": "80351110224678912",
                "message_count": 0,
                "member_count": 2,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": "2024-05-01T10:00:00.000000+00:00",
                    "locked": False,
                    "create_timestamp": "2024-05-01T10:00:00.000000+00:00",
                },
            }
        self.channels[channel_id] = {"meta": meta, "messages": []}
        return meta

    def add_message(self, channel_id: str, content: str, *, bot: bool = False) -> dict[str, Any]:
        message_id = self.snowflake()
        author = (
            {"id": "222000000000000002", "username": "ci", "discriminator": "0", "global_name": None, "bot": True}
            if bot
            else {"id": "80351110224678912", "username": "nelly", "discriminator": "0", "global_name": "Nelly"}
        )
        message = {
            "id": message_id,
            "channel_id": channel_id,
            "type": 0,
            "author": author,
            "content": content,
            "timestamp": snowflake_time(message_id).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
        }
        self.channels[channel_id]["messages"].append(message)
        meta = self.channels[channel_id]["meta"]
        if "message_count" in meta:
            meta["message_count"] += 1
        return message

    def start_thread(self, channel_id: str, message: dict[str, Any], name: str) -> dict[str, Any]:
        """A thread started from `message`: its id is the message's, as Discord does."""
        meta = self.add_channel(message["id"], name=name, parent_id=channel_id)
        message["thread"] = meta
        return meta

    def rate_limited(self, retry_after: float, *, global_: bool = False) -> dict[str, Any]:
        """`fail_next` arguments for Discord's 429."""
        headers = {
            "Retry-After": str(max(1, int(retry_after + 0.999))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "abcd1234",
            "X-RateLimit-Scope": "global" if global_ else "user",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}
        return {"body": body, "headers": headers}

    # --- the service -----------------------------------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", f"{PREFIX}/users/@me", lambda r: (200, self.bot, self._headers()))
        self.route("GET", f"{PREFIX}/users/@me/guilds", self._guilds)
        self.route("GET", rf"{PREFIX}/channels/(?P<channel>\d+)/messages", self._messages)
        self.route("POST", rf"{PREFIX}/channels/(?P<channel>\d+)/messages", self._post)
        self.route("GET", rf"{PREFIX}/guilds/(?P<guild>\d+)/threads/active", self._active_threads)

    def before(self, request: FakeRequest) -> Answer | None:
        if request.headers.get("authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        return None

    def unmatched(self, request: FakeRequest) -> Answer:
        return 404, {"message": "404: Not Found", "code": 0}, {}

    def _headers(self) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{time.time() + self.reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{self.reset_after:.3f}",
            "X-RateLimit-Bucket": "f00dfeed",
        }

    def _channel(self, request: FakeRequest) -> tuple[dict[str, Any] | None, Answer | None]:
        assert request.match is not None
        channel_id = request.match.group("channel")
        if channel_id in self.forbidden:
            return None, (403, {"message": "Missing Access", "code": 50001}, self._headers())
        channel = self.channels.get(channel_id)
        if channel is None:
            return None, (404, {"message": "Unknown Channel", "code": 10003}, self._headers())
        return channel, None

    def _guilds(self, request: FakeRequest) -> Answer:
        limit = int(request.param("limit", "200") or 200)
        return 200, self.guilds[:limit], self._headers()

    def _messages(self, request: FakeRequest) -> Answer:
        channel, refusal = self._channel(request)
        if refusal:
            return refusal
        assert channel is not None
        limit = int(request.param("limit", "50") or 50)
        if not 1 <= limit <= 100:
            return (
                400,
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "limit": {
                            "_errors": [
                                {"code": "NUMBER_TYPE_MAX", "message": "int value should be less than or equal to 100."}
                            ]
                        }
                    },
                },
                self._headers(),
            )
        messages = channel["messages"]  # oldest first
        after, before = request.param("after"), request.param("before")
        if after is not None:
            page = [m for m in messages if int(m["id"]) > int(after)][:limit]
        else:
            older = [m for m in messages if before is None or int(m["id"]) < int(before)]
            page = older[-limit:]
        # Discord answers newest first whichever way it pages.
        return 200, sorted(page, key=lambda m: int(m["id"]), reverse=True), self._headers()

    def _post(self, request: FakeRequest) -> Answer:
        channel, refusal = self._channel(request)
        if refusal:
            return refusal
        assert channel is not None
        body = request.json() or {}
        content = body.get("content") or ""
        if not content or len(content) > 2000:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": {"content": {}}}, self._headers()
        message = self.add_message(channel["meta"]["id"], content)
        message["author"] = {k: self.bot[k] for k in ("id", "username", "discriminator", "global_name", "bot")}
        return 200, message, self._headers()

    def _active_threads(self, request: FakeRequest) -> Answer:
        assert request.match is not None
        if request.match.group("guild") != self.guild_id:
            return 404, {"message": "Unknown Guild", "code": 10004}, self._headers()
        threads = [
            c["meta"]
            for c in self.channels.values()
            if c["meta"]["type"] == 11 and not c["meta"]["thread_metadata"]["archived"]
        ]
        members = [
            {"id": t["id"], "user_id": self.bot["id"], "join_timestamp": "2024-05-01T10:00:00+00:00", "flags": 0}
            for t in threads
        ]
        return 200, {"threads": threads, "members": members}, self._headers()
