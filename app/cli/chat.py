"""`adjutant chat`: a terminal client that speaks the chat WebSocket like the VS Code extension and runs
the client tools on the local working copy, so the server is usable without an IDE.

Prompts, approvals and commands run beside the event loop (`off_loop`), so the socket keeps answering
keep-alive pings while the user thinks; a socket that drops anyway is reopened and the step resumed from the
last event shown (docs/protocol.md §8), so nothing is lost or shown twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Confirm, Prompt
from rich.syntax import Syntax

from app.chat.wire import message_order
from app.cli.chat_socket import BACKOFF_INITIAL_S, RECONNECT_ATTEMPTS, ChatSocket, ConnectionLost
from app.cli.off_loop import exit_now_if_blocked, off_loop
from app.cli.workspace_tools import WorkspaceTools

CLIENT_HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "X-Session-Type": "VSCODE_EXT_SESSION"}
END = {"STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"}


class ServerRefused(Exception):
    """A connection-level error frame (bad token, old client): the server closes the socket after it."""


class Renderer:
    """Shows one step's frames as they arrive; collects the tool requests it carries."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tools: list[dict[str, Any]] = []
        self.code: dict[str, Any] | None = None

    def frame(self, frame: dict[str, Any]) -> None:
        console = self.console
        data = frame.get("data", {})
        kind, content = data.get("type"), data.get("content") or {}
        if kind == "TEXT_DELTA":
            console.print(content["text"], end="", markup=False)
        elif kind == "TEXT_BLOCK_END":
            console.print()
        elif kind == "THINKING_BLOCK_START":
            console.print("[dim italic]thinking… [/]", end="")
        elif kind == "THINKING_BLOCK_DELTA":
            console.print(content["thinking_delta"], end="", style="dim italic", markup=False)
        elif kind == "THINKING_BLOCK_END":
            console.print()
        elif kind == "CODE_BLOCK_START":
            self.code = {**content, "code": ""}
        elif kind == "CODE_BLOCK_DELTA" and self.code is not None:
            self.code["code"] += content["code_delta"]
        elif kind == "CODE_BLOCK_END" and self.code is not None:
            language = "diff" if self.code.get("is_diff") else (self.code.get("language") or "text")
            console.print(
                Panel(Syntax(self.code["code"], language, word_wrap=True), title=self.code.get("filepath") or None)
            )
            self.code = None
        elif kind == "TASK_PLAN":
            for step in content.get("latest_plan_steps", []):
                console.print(f"  [{'x' if step['is_completed'] else ' '}] {step['step_description']}", markup=False)
        elif kind == "TOOL_USE_REQUEST_START":
            self.tools.append({"tool_name": content["tool_name"], "tool_use_id": content["tool_use_id"], "raw": ""})
        elif kind == "TOOL_USE_REQUEST_DELTA":
            self.tools[-1]["raw"] += content["input_params_json_delta"]
        elif kind == "MALFORMED_TOOL_USE_REQUEST":
            reason = content.get("reason")
            console.print(f"The model made an unusable tool call: {reason}", style="yellow", markup=False)


def error_line(data: dict[str, Any]) -> str:
    """A STREAM_ERROR as one line: status, message, and the provider's detail when it adds something."""
    status, message, detail = data.get("status"), data.get("message"), data.get("detail")
    line = f"{status}: {message}" if message else str(status)
    return f"{line} ({detail})" if detail and detail != message else line


class ChatClient:
    def __init__(
        self,
        server: str,
        token: str,
        repo: Path,
        *,
        model: str | None,
        write: bool,
        yes: bool,
        session_id: int | None,
        console: Console | None = None,
        errors: Console | None = None,
        reconnect_attempts: int = RECONNECT_ATTEMPTS,
        backoff_s: float = BACKOFF_INITIAL_S,
    ) -> None:
        self.console = console or Console(highlight=False)
        self.errors = errors or Console(stderr=True, highlight=False)
        self.token = token
        self.repo = repo.resolve()
        self.model = model
        self.write = write
        self.session_id = session_id
        self.socket = ChatSocket(server, self._headers, attempts=reconnect_attempts, backoff_s=backoff_s)
        self.tools = WorkspaceTools(
            self.repo,
            confirm=(lambda _: True) if yes else self._confirm,
            ask=lambda prompt: Prompt.ask(f"[bold]{escape(prompt)}[/]", console=self.console),
            show=lambda text: self.console.print(Syntax(text, "diff")),
        )

    def _confirm(self, question: str) -> bool:
        return Confirm.ask(escape(question), default=False, console=self.console)

    def _headers(self) -> dict[str, str]:
        headers = {**CLIENT_HEADERS, "Authorization": f"Bearer {self.token}"}
        if self.session_id:
            headers["X-Session-ID"] = str(self.session_id)
        return headers

    def _payload(self, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "repositories": [
                {
                    "repo_path": str(self.repo),
                    "repo_name": self.repo.name,
                    "is_working_repository": True,
                    "root_directory_context": "",
                }
            ],
            "os_name": platform.system().lower(),
            "shell": os.environ.get("SHELL", "sh"),
            "write_mode": self.write,
            **fields,
        }
        if self.model:
            payload["llm_model"] = self.model
        if self.session_id:
            payload["session_id"] = self.session_id
        return payload

    def _fail(self, line: str) -> None:
        self.errors.print(f"adjutant: {line}", style="red", markup=False, soft_wrap=True)

    async def run(self, messages: list[str] | None) -> int:
        """Chat until /exit or end of input (or through `messages`); the exit code of the command."""
        try:
            await self.socket.connect()
            queue = list(messages) if messages is not None else None
            while True:
                if queue is None:
                    try:
                        text = await off_loop(Prompt.ask, "\n[bold cyan]you[/]", console=self.console)
                    except EOFError:
                        return 0
                    if text.strip() in ("/exit", "/quit"):
                        return 0
                elif queue:
                    text = queue.pop(0)
                    self.console.print(f"[bold cyan]you[/] {escape(text)}")
                else:
                    return 0
                if not text.strip():
                    continue
                if not await self._turn(self._payload(query=text)) and queue is not None:
                    return 1
        except (ConnectionLost, ServerRefused) as exc:
            self._fail(str(exc))
            return 1
        finally:
            await self.socket.close()

    async def _turn(self, payload: dict[str, Any]) -> bool:
        """Send a request and follow it through every tool round trip; False if it ended in an error."""
        while True:
            renderer, end = await self._answer(payload)
            if end.get("type") == "STREAM_ERROR":
                self._fail(error_line(end))
                return False
            if not renderer.tools:
                return True
            payload = self._payload(batch_tool_responses=[await self._run_tool(call) for call in renderer.tools])

    async def _answer(self, payload: dict[str, Any]) -> tuple[Renderer, dict[str, Any]]:
        """Send one request and read its answer up to the end event, across dropped sockets.

        After a drop the step is resumed after the last event shown. Before any step event arrived there is
        nothing to resume from, so the request is sent again: a copy of a request whose step is running
        attaches to that step instead of starting another (docs/protocol.md §6.4).
        """
        renderer = Renderer(self.console)
        stream_id: str | None = None
        last_id: str | None = None
        request = payload
        drops = 0  # in a row, without a new event in between
        sent = await self.socket.send(request)
        while True:
            frame = await self.socket.frame() if sent else None
            if frame is None:
                drops += 1
                if drops > self.socket.attempts:
                    raise ConnectionLost(f"the connection to {self.socket.server} keeps dropping")
                self.errors.print("connection lost; reconnecting…", style="dim", markup=False)
                await self.socket.reconnect()
                if stream_id is not None:
                    request = {"resume_query_id": stream_id}
                    if last_id is not None:
                        request["resume_offset_id"] = last_id
                sent = await self.socket.send(request)
                continue
            if frame.get("type") == "STREAM_ERROR":
                raise ServerRefused(error_line(frame))
            data = frame.get("data") or {}
            kind = data.get("type")
            if "message_id" in frame:
                if last_id is not None and message_order(frame["message_id"]) <= message_order(last_id):
                    continue  # shown before the drop
                last_id = frame["message_id"]
                drops = 0
            if kind == "RESPONSE_METADATA":
                stream_id = data["content"]["query_id"]
                self.session_id = data["content"]["session_id"]
            renderer.frame(frame)
            if kind in END:
                return renderer, data

    async def _run_tool(self, call: dict[str, Any]) -> dict[str, Any]:
        name = call["tool_name"]
        try:
            arguments = json.loads(call["raw"] or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            response: Any = {"error_message": "the tool input is not a JSON object"}
            status: str | None = "FAILED"
        else:
            self.console.print(f"[magenta]⚙ {escape(name)}[/] {escape(json.dumps(arguments)[:200])}")
            response, status = await off_loop(self.tools.run, name, arguments)
        entry = {"tool_name": name, "tool_use_id": call["tool_use_id"], "response": response}
        if status is not None:
            entry["status"] = status
        return entry


def chat(
    message: Annotated[
        list[str] | None, typer.Option("--message", "-m", help="Send this message (repeatable) and exit; no prompt.")
    ] = None,
    server: Annotated[
        str, typer.Option(envvar="ADJUTANT_SERVER", help="The Adjutant base URL.")
    ] = "http://127.0.0.1:8084",
    token: Annotated[
        str | None,
        typer.Option(envvar="ADJUTANT_TOKEN", help="Bearer token (adjutant token create).", show_default=False),
    ] = None,
    repo: Annotated[Path, typer.Option(help="The working repository the tools act on.")] = Path("."),
    model: Annotated[str | None, typer.Option(help="Model name (see GET /v1/llm/models).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Let the assistant edit files (with previews).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Approve commands and edits without asking.")] = False,
    session: Annotated[int | None, typer.Option(help="Continue this session id.")] = None,
) -> None:
    """Chat with the assistant in the terminal; tools run on your working copy."""
    errors = Console(stderr=True, highlight=False)
    if not token:
        errors.print("[red]adjutant:[/] a token is needed: --token or ADJUTANT_TOKEN (adjutant token create)")
        raise typer.Exit(2)
    client = ChatClient(server, token, repo, model=model, write=write, yes=yes, session_id=session, errors=errors)
    try:
        code = asyncio.run(client.run(message))
    except KeyboardInterrupt:
        code = 130
    exit_now_if_blocked(code)
    raise typer.Exit(code)
