"""A loopback Slack Web API: `<base>/api/<method>` over GET or POST (query, form or JSON arguments), answered
the way Slack does — HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`, a 429 with
`Retry-After` when rate limited (scripted with `fail_next`), `x-oauth-scopes` on every answer, cursor
pagination in `response_metadata.next_cursor`.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

SCOPES = "chat:write,channels:history,groups:history"


class FakeSlack(FakeService):
    def __init__(self, *, token: str = "xoxb-test") -> None:  # noqa: S107 - the fake's own test token
        self.token = token
        self.workspace_url = "https://acme.slack.com/"
        self.bot_user = "U0BOT"
        self.bot_id = "B0BOT"
        self.channels: dict[str, list[dict[str, Any]]] = {"C0GENERAL": [], "C0PRIVATE": []}
        self.members = {"C0GENERAL"}  # channels the bot was invited to
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.page_max = 1000  # Slack may answer fewer items than `limit`; tests lower this to force pages
        self._clock = itertools.count(1)
        super().__init__()

    # --- state for tests -------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        return f"{1_715_000_000 + next(self._clock)}.000100"

    def add_message(self, channel: str, text: str, *, user: str = "U0ADA", bot: bool = False) -> dict[str, Any]:
        ts = self.next_ts()
        message: dict[str, Any] = {"type": "message", "text": text, "ts": ts}
        if bot:
            message |= {"subtype": "bot_message", "bot_id": "B0OTHER", "username": "deploy-bot"}
        else:
            message |= {"user": user, "user_profile": {"display_name": user.lower(), "real_name": user}}
        self.channels[channel].append(message)
        return message

    def add_reply(self, channel: str, thread_ts: str, text: str, *, user: str = "U0GRACE") -> dict[str, Any]:
        root = next(m for m in self.channels[channel] if m["ts"] == thread_ts)
        reply = {"type": "message", "text": text, "ts": self.next_ts(), "user": user, "thread_ts": thread_ts}
        root["thread_ts"] = thread_ts
        root["reply_count"] = root.get("reply_count", 0) + 1
        self.replies.setdefault((channel, thread_ts), []).append(reply)
        return reply

    def calls(self, method: str) -> list[FakeRequest]:
        return self.seen(path=f"/api/{method}$")

    def arguments(self, request: FakeRequest) -> dict[str, Any]:
        args: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        content_type = request.headers.get("content-type", "")
        if request.body and content_type.startswith("application/json"):
            args |= json.loads(request.body)
        elif request.body:
            args |= {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        return args

    # --- the service -----------------------------------------------------------------------------------------

    def routes(self) -> None:
        for verb in ("GET", "POST"):
            self.route(verb, r"/api/(?P<method>[A-Za-z.]+)", self._api)

    def before(self, request: FakeRequest) -> Answer | None:
        auth = request.headers.get("authorization")
        if not auth:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        return None

    def unmatched(self, request: FakeRequest) -> Answer:
        return 404, {"ok": False, "error": "unknown_method"}, {}

    def _api(self, request: FakeRequest) -> Answer:
        assert request.match is not None
        method = request.match.group("method")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, self._headers()
        return 200, handler(self.arguments(request)), self._headers()

    def _headers(self) -> dict[str, str]:
        return {"x-oauth-scopes": SCOPES, "x-accepted-oauth-scopes": "chat:write"}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.workspace_url,
            "team": "Acme",
            "user": "adjutant",
            "team_id": "T0ACME",
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's method names
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if channel not in self.members:
            return {"ok": False, "error": "not_in_channel"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        message = {
            "type": "message",
            "subtype": "bot_message",
            "text": args.get("text") or "",
            "ts": self.next_ts(),
            "user": self.bot_user,
            "bot_id": self.bot_id,
            "bot_profile": {"id": self.bot_id, "name": "Adjutant"},
            "team": "T0ACME",
        }
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        thread_ts = args.get("thread_ts")
        if thread_ts:
            root = next((m for m in self.channels[channel] if m["ts"] == thread_ts), None)
            if root is None:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = thread_ts
            root["thread_ts"] = thread_ts
            root["reply_count"] = root.get("reply_count", 0) + 1
            self.replies.setdefault((channel, thread_ts), []).append(message)
        else:
            self.channels[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        message = self._message(channel, args.get("ts"))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.get("bot_id") != self.bot_id:
            return {"ok": False, "error": "cant_update_message"}
        message["text"] = args.get("text") or ""
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"], "message": message}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel, ts = args.get("channel"), args.get("message_ts")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        message = self._message(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{self.workspace_url}archives/{channel}/p{str(ts).replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if channel not in self.members:
            return {"ok": False, "error": "not_in_channel"}
        oldest = float(args.get("oldest") or 0)
        messages = sorted(
            (m for m in self.channels[channel] if float(m["ts"]) > oldest), key=lambda m: m["ts"], reverse=True
        )
        return self._page(messages, args)

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        root = next((m for m in self.channels[channel] if m["ts"] == ts), None)
        if root is None:
            return {"ok": False, "error": "thread_not_found"}
        return self._page([root, *self.replies.get((channel, ts), [])], args)

    def _page(self, messages: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(args["cursor"]).decode().removeprefix("next:"))
            except ValueError:
                return {"ok": False, "error": "invalid_cursor"}
        size = min(int(args.get("limit") or 100), self.page_max)
        page = messages[start : start + size]
        more = start + size < len(messages)
        cursor = base64.b64encode(f"next:{start + size}".encode()).decode() if more else ""
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _message(self, channel: str, ts: Any) -> dict[str, Any] | None:
        for message in self.channels[channel]:
            if message["ts"] == ts:
                return message
        for (where, _), replies in self.replies.items():
            if where == channel:
                for reply in replies:
                    if reply["ts"] == ts:
                        return reply
        return None
