"""A replay client that behaves like the reference client (docs/protocol.md §12.1): upgrade headers, one socket per
chat, message_id tracking, a tool loop answering with one batch, resume, cancel."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from app.chat.wire import message_order

CLIENT = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0"}
END_TYPES = {"STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"}
SOCKET_PATH = "/end_user/v2/code-gen/generate-code-ws"


@dataclass
class Turn:
    """One answer: STREAM_START, then step events up to the step's end (or a request-level error)."""

    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [f["data"]["type"] for f in self.frames]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if "message_id" in f]

    @property
    def text(self) -> str:
        return "".join(f["data"]["content"]["text"] for f in self.frames if f["data"]["type"] == "TEXT_DELTA")

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["data"]["type"] == kind]

    @property
    def stream_id(self) -> str:
        return self.of("RESPONSE_METADATA")[0]["data"]["content"]["query_id"]

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of("STREAM_ERROR")
        return errors[0]["data"] if errors else None

    def tool_requests(self) -> list[dict[str, Any]]:
        """(name, id, input) of each TOOL_USE_REQUEST_*, from the concatenated deltas."""
        calls: list[dict[str, Any]] = []
        for frame in self.frames:
            kind, content = frame["data"]["type"], frame["data"].get("content", {})
            if kind == "TOOL_USE_REQUEST_START":
                calls.append({"tool_name": content["tool_name"], "tool_use_id": content["tool_use_id"], "raw": ""})
            elif kind == "TOOL_USE_REQUEST_DELTA":
                calls[-1]["raw"] += content["input_params_json_delta"]
        for call in calls:
            call["input"] = json.loads(call["raw"])
        return calls

    def compact(self) -> list[str]:
        """The frame types with blocks collapsed: SS SI RM T TU(x) ... as docs/protocol.md §12 writes them."""
        out: list[str] = []
        for frame in self.frames:
            kind = frame["data"]["type"]
            if kind in (
                "TEXT_DELTA",
                "TEXT_BLOCK_END",
                "TOOL_USE_REQUEST_DELTA",
                "TOOL_USE_REQUEST_END",
                "THINKING_BLOCK_DELTA",
                "THINKING_BLOCK_END",
                "CODE_BLOCK_DELTA",
                "CODE_BLOCK_END",
                "SESSION_SUMMARY",
            ):
                continue
            short = {
                "STREAM_START": "SS",
                "STREAM_INITIALIZED": "SI",
                "RESPONSE_METADATA": "RM",
                "TEXT_START": "T",
                "TASK_COMPLETION": "TC",
                "QUERY_COMPLETE": "QC",
                "STREAM_END_CLOSE_CONNECTION": "SECC",
                "STREAM_END": "SE",
                "MALFORMED_TOOL_USE_REQUEST": "MAL",
                "THINKING_BLOCK_START": "TH",
                "CODE_BLOCK_START": "CB",
                "TASK_PLAN": "PLAN",
            }.get(kind)
            if kind == "TOOL_USE_REQUEST_START":
                short = f"TU({frame['data']['content']['tool_name']})"
            if kind == "STREAM_ERROR":
                short = f"ERR({frame['data']['status']})"
            out.append(short or kind)
        return out


class Socket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.last_message_id: str | None = None

    async def send(self, payload: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(payload if isinstance(payload, str | bytes) else json.dumps(payload))

    async def frame(self, timeout: float = 15) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame.get("data", {}).get("type") == "PING":
                continue
            if frame.get("data", {}).get("type") == "STREAM_START":
                self.last_message_id = None  # a new answer: ids are tracked per answer
            if "message_id" in frame:
                if self.last_message_id is not None and frame["data"]["type"] == "STREAM_INITIALIZED":
                    self.last_message_id = None  # a new step: ids restart
                if self.last_message_id is not None:
                    assert message_order(frame["message_id"]) > message_order(self.last_message_id), "ids must increase"
                self.last_message_id = frame["message_id"]
            return frame

    async def turn(self, timeout: float = 15, *, stop_after: int | None = None) -> Turn:
        """Read one answer: STREAM_START then frames until the end event or a request-level error."""
        turn = Turn()
        first = await self.frame(timeout)
        assert first["data"]["type"] == "STREAM_START" and "message_id" not in first, first
        turn.frames.append(first)
        while True:
            frame = await self.frame(timeout)
            turn.frames.append(frame)
            if frame["data"]["type"] in END_TYPES:
                if frame["data"]["type"] == "STREAM_ERROR" and "message_id" not in frame:
                    return turn  # request-level error
                return turn
            if stop_after is not None and len(turn.events) >= stop_after:
                return turn

    async def ask(self, payload: dict[str, Any], timeout: float = 15) -> Turn:
        await self.send(payload)
        return await self.turn(timeout)

    async def close(self) -> None:
        await self.ws.close()


class ReplayClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://") + SOCKET_PATH
        self.token = token

    def headers(self, session_id: int | None = None, **extra: str) -> dict[str, str]:
        headers = {**CLIENT, "Authorization": f"Bearer {self.token}", "X-Session-Type": "VSCODE_EXT_SESSION", **extra}
        if session_id is not None:
            headers["X-Session-ID"] = str(session_id)
        return headers

    async def socket(self, session_id: int | None = None, **headers: str) -> Socket:
        ws = await connect(
            self.ws_url,
            additional_headers=self.headers(session_id, **headers),
            max_size=64 * 1024 * 1024,
            open_timeout=10,
        )
        return Socket(ws)

    async def rest(self, method: str, path: str, session_id: int | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(session_id), **kwargs.pop("headers", {})}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=15) as http:
            return await http.request(method, path, headers=headers, **kwargs)

    async def chats(self, session_id: int) -> list[dict[str, Any]]:
        response = await self.rest("GET", "/end_user/v1/history/chats", session_id)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def cancel(self, session_id: int) -> httpx.Response:
        return await self.rest("POST", "/end_user/v2/code-gen/cancel", session_id, json={})


def history_shape(chats: list[dict[str, Any]]) -> list[str]:
    return [f"{c['actor']}/{c['message_data']['message_type']}" for c in chats]
