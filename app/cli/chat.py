"""`adjutant chat`: a terminal client that speaks the chat WebSocket like the VS Code extension and runs
the client tools on the local working copy, so the server is usable without an IDE."""

from __future__ import annotations

import asyncio
import json
import os
import platform
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.prompt import Confirm, Prompt
from rich.syntax import Syntax
from websockets.asyncio.client import connect

from app.cli.workspace_tools import WorkspaceTools

SOCKET_PATH = "/end_user/v2/code-gen/generate-code-ws"
CLIENT_HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "X-Session-Type": "VSCODE_EXT_SESSION"}
END = {"STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"}
console = Console(highlight=False)


class Renderer:
    """Shows one step's frames as they arrive; collects the tool requests it carries."""

    def __init__(self) -> None:
        self.tools: list[dict[str, Any]] = []
        self.code: dict[str, Any] | None = None

    def frame(self, frame: dict[str, Any]) -> None:
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
            console.print(f"[yellow]The model made an unusable tool call: {content.get('reason')}[/]")
        elif kind == "STREAM_ERROR":
            detail = data.get("detail") or data.get("message")
            console.print(f"[red]{data.get('status')}: {detail}[/]")


class ChatClient:
    def __init__(
        self, server: str, token: str, repo: Path, *, model: str | None, write: bool, yes: bool, session_id: int | None
    ) -> None:
        self.url = server.rstrip("/").replace("http://", "ws://").replace("https://", "wss://") + SOCKET_PATH
        self.token = token
        self.repo = repo.resolve()
        self.model = model
        self.write = write
        self.session_id = session_id
        self.tools = WorkspaceTools(
            self.repo,
            confirm=(lambda _: True) if yes else self._confirm,
            ask=lambda prompt: Prompt.ask(f"[bold]{prompt}[/]"),
            show=lambda text: console.print(Syntax(text, "diff")),
        )

    @staticmethod
    def _confirm(question: str) -> bool:
        return Confirm.ask(question, default=False)

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

    async def run(self, messages: list[str] | None) -> int:
        headers = {**CLIENT_HEADERS, "Authorization": f"Bearer {self.token}"}
        async with connect(self.url, additional_headers=headers, max_size=64 * 1024 * 1024) as ws:
            queue = list(messages) if messages is not None else None
            while True:
                if queue is None:
                    try:
                        text = Prompt.ask("\n[bold cyan]you[/]")
                    except (EOFError, KeyboardInterrupt):
                        return 0
                    if text.strip() in ("/exit", "/quit"):
                        return 0
                elif queue:
                    text = queue.pop(0)
                    console.print(f"[bold cyan]you[/] {text}", markup=True)
                else:
                    return 0
                if not text.strip():
                    continue
                if not await self._turn(ws, self._payload(query=text)) and queue is not None:
                    return 1

    async def _turn(self, ws: Any, payload: dict[str, Any]) -> bool:
        """Send a request and follow it through every tool round trip; False if it ended in an error."""
        while True:
            await ws.send(json.dumps(payload))
            renderer = Renderer()
            while True:
                frame = json.loads(await ws.recv())
                data = frame.get("data", {})
                if data.get("type") == "PING":
                    continue
                if data.get("type") == "RESPONSE_METADATA":
                    self.session_id = data["content"]["session_id"]
                renderer.frame(frame)
                if frame.get("type") == "STREAM_ERROR":  # a connection-level refusal
                    console.print(f"[red]{frame.get('status')}: {frame.get('message')}[/]")
                    return False
                if data.get("type") in END:
                    break
            if data.get("type") == "STREAM_ERROR":
                return False
            if not renderer.tools:
                return True
            responses = []
            for call in renderer.tools:
                arguments = json.loads(call["raw"] or "{}")
                console.print(f"[magenta]⚙ {call['tool_name']}[/] {json.dumps(arguments)[:200]}", markup=True)
                response, status = self.tools.run(call["tool_name"], arguments)
                entry = {"tool_name": call["tool_name"], "tool_use_id": call["tool_use_id"], "response": response}
                if status is not None:
                    entry["status"] = status
                responses.append(entry)
            payload = self._payload(batch_tool_responses=responses)


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
    if not token:
        console.print("[red]adjutant:[/] a token is needed: --token or ADJUTANT_TOKEN (adjutant token create)")
        raise typer.Exit(2)
    client = ChatClient(server, token, repo, model=model, write=write, yes=yes, session_id=session)
    try:
        code = asyncio.run(client.run(message))
    except OSError as exc:
        console.print(f"[red]adjutant:[/] cannot reach {server}: {exc}")
        raise typer.Exit(1) from None
    raise typer.Exit(code)
