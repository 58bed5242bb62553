"""A replay client for the IDE review that behaves like the reference extension (docs/review-protocol.md §3, §5.2,
§6): REST calls with the client headers, socket URLs from the essential configs, one new review socket per agent
step (old ones are never closed), tool results sent back as continuations, and the post-process socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

CLIENT = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0"}
BASE = "/end_user/v1/ide-reviews"
TERMINAL = ("AGENT_COMPLETE", "AGENT_FAIL")
ToolRunner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class Answer:
    """The frames answering one client message, STREAM_START (or a STREAM_ERROR) to STREAM_END."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    progress: int = 0  # IN_PROGRESS frames, which the client ignores

    @property
    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def by_agent(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for f in self.frames:
            if f["agent_id"] is not None:
                out.setdefault(f["agent_id"], []).append(f["type"])
        return out


class ReviewSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, payload: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(payload if isinstance(payload, str | bytes) else json.dumps(payload))

    async def frame(self, timeout: float = 20) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(raw, str), "every server frame must be a JSON text frame"
        frame = json.loads(raw)
        assert isinstance(frame, dict) and isinstance(frame.get("data"), dict), frame
        assert "timestamp" in frame and "agent_id" in frame, frame
        return frame

    async def answer(self, timeout: float = 20) -> Answer:
        answer = Answer()
        while True:
            frame = await self.frame(timeout)
            if frame["type"] == "IN_PROGRESS":
                answer.progress += 1
                continue
            answer.frames.append(frame)
            if frame["type"] == "STREAM_END":
                return answer

    async def ask(self, payload: dict[str, Any] | str | bytes, timeout: float = 20) -> Answer:
        await self.send(payload)
        return await self.answer(timeout)

    async def silent_for(self, seconds: float) -> list[dict[str, Any]]:
        """Frames other than IN_PROGRESS that arrive within `seconds` (there should be none)."""
        seen: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    frame = await self.frame(seconds + 1)
                    if frame["type"] != "IN_PROGRESS":
                        seen.append(frame)
        except TimeoutError:
            return seen

    @property
    def open(self) -> bool:
        return self.ws.state.name == "OPEN"

    async def close(self) -> None:
        await self.ws.close()


class ReviewClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.sockets: list[ReviewSocket] = []
        self._urls: dict[str, str] | None = None

    def headers(self, **extra: str) -> dict[str, str]:
        return {**CLIENT, "Authorization": f"Bearer {self.token}", **extra}

    async def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            return await http.request(method, path, headers=headers, **kwargs)

    async def data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.rest(method, BASE + path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["is_success"] is True, body
        return body["data"]

    async def urls(self) -> dict[str, str]:
        """Socket URLs as the extension builds them: DD_HOST_WS + each endpoint."""
        if self._urls is None:
            response = await self.rest(
                "GET",
                "/end_user/v1/configs/get-essential-configs",
                params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
            )
            essential = response.json()["data"]
            base = essential["DD_HOST_WS"].rstrip("/")
            self._urls = {
                "review": base + essential["REVIEW_SOLVER_ENDPOINT"],
                "post": base + essential["REVIEW_POST_PROCESS_SOLVER_ENDPOINT"],
            }
        return self._urls

    async def socket(
        self, kind: str = "review", *, headers: dict[str, str] | None = None, **options: Any
    ) -> ReviewSocket:
        sent = headers if headers is not None else {**self.headers(), "X-Session-Type": "VSCODE_EXT_SESSION"}
        ws = await connect((await self.urls())[kind], additional_headers=sent, open_timeout=10, **options)
        socket = ReviewSocket(ws)
        self.sockets.append(socket)
        return socket

    def message(self, review_id: int, items: list[dict[str, Any]], session_id: int | None = None) -> dict[str, Any]:
        return {
            "action": "run-agent",
            "review_id": review_id,
            "agents": items,
            "session_id": session_id,
            "session_type": "VSCODE_EXT_SESSION",
            "auth_token": self.token,
        }

    async def start(self, review_id: int, agent_ids: list[int]) -> Answer:
        """Socket #0 with one query item per enabled agent."""
        socket = await self.socket()
        items = [{"agent_id": a, "review_id": review_id, "type": "query"} for a in agent_ids]
        return await socket.ask(self.message(review_id, items))

    async def continue_tool(
        self, review_id: int, request: dict[str, Any], response: Any, *, failed: bool = False
    ) -> Answer:
        """A tool result on a new socket, as `_runTool` sends it."""
        socket = await self.socket()
        item = {
            "agent_id": request["agent_id"],
            "review_id": review_id,
            "type": "tool_use_failed" if failed else "tool_use_response",
            "tool_use_response": {
                "tool_name": request["data"]["tool_name"],
                "tool_use_id": request["data"]["tool_use_id"],
                "response": response,
            },
        }
        return await socket.ask(self.message(review_id, [item]))

    async def run_review(
        self, review_id: int, agent_ids: list[int], run_tool: ToolRunner
    ) -> tuple[list[Answer], dict[int, list[str]]]:
        """The whole agent loop, one tool at a time as the client does; returns every answer and the terminal
        frames seen per agent."""
        answers = [await self.start(review_id, agent_ids)]
        pending = list(answers[0].of("TOOL_USE_REQUEST"))
        while pending:
            request = pending.pop(0)
            result = await run_tool(request)
            answer = await self.continue_tool(
                review_id, request, result["response"], failed=result.get("failed", False)
            )
            answers.append(answer)
            pending.extend(answer.of("TOOL_USE_REQUEST"))
        terminals: dict[int, list[str]] = {}
        for answer in answers:
            for frame in answer.frames:
                if frame["type"] in TERMINAL:
                    terminals.setdefault(frame["agent_id"], []).append(frame["type"])
        return answers, terminals

    async def post_process(self, review_id: int) -> Answer:
        socket = await self.socket("post")
        return await socket.ask(
            {
                "action": "post-process",
                "review_id": review_id,
                "session_type": "VSCODE_EXT_SESSION",
                "auth_token": self.token,
            }
        )

    async def close(self) -> None:
        for socket in self.sockets:
            if socket.open:
                await socket.close()
