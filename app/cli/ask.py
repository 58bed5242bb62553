"""`adjutant ask "..."`: a grounded answer from a running server, streamed as it is written, then its
numbered sources (POST /v1/answer/stream)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from app.cli.common import console, fail, out


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) per server-sent event of a line stream."""
    name, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if data:
        yield name, json.loads("\n".join(data))


def show_answer(events: Iterable[tuple[str, dict[str, Any]]], screen: Console) -> bool:
    """Print the answer as it streams, then its sources; False when the stream ended in an error."""
    sources: list[dict[str, Any]] = []
    for name, data in events:
        if name == "sources":
            sources = data["sources"]
        elif name == "delta":
            screen.print(data["text"], end="", markup=False, highlight=False, soft_wrap=True)
        elif name == "final":
            screen.print()
            cited = set(data["citations"]["cited"])
            for source in sources:
                where = source["title"]
                if source.get("start_line") is not None:
                    where += f":{source['start_line']}-{source['end_line']}"
                mark = "" if source["number"] in cited else " [dim](not cited)[/]"
                screen.print(f"[bold][{source['number']}][/] {escape(where)}{mark}")
            if data["citations"]["removed"]:
                removed = ", ".join(map(str, data["citations"]["removed"]))
                screen.print(f"[yellow]removed citations naming no source: {removed}[/]")
            usage = data["usage"]
            if data["answered"]:
                tokens = f"{usage['input_tokens']} in, {usage['output_tokens']} out"
                screen.print(f"[dim]{escape(str(data['model']))}: {tokens}[/]", highlight=False)
            return True
        elif name == "error":
            screen.print()
            console.print(f"[bold red]adjutant:[/] {escape(data['code'])}: {escape(data['message'])}")
            return False
    console.print("[bold red]adjutant:[/] the answer stream ended early")
    return False


def ask(
    question: Annotated[str, typer.Argument(help="The question, in words.")],
    repo: Annotated[list[str] | None, typer.Option(help="Draw only on this index (repeatable).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Kinds of source: code, docs, qa (repeatable).")] = None,
    style: Annotated[str, typer.Option(help="explain, code or howto.")] = "explain",
    max_results: Annotated[int, typer.Option("--max-results", min=1, max=20, help="Most sources used.")] = 8,
    server: Annotated[
        str, typer.Option(envvar="ADJUTANT_SERVER", help="The Adjutant base URL.")
    ] = "http://127.0.0.1:8084",
    token: Annotated[
        str | None,
        typer.Option(envvar="ADJUTANT_TOKEN", help="Bearer token (adjutant token create).", show_default=False),
    ] = None,
) -> None:
    """Answer a question from the team's indexed sources, with numbered citations."""
    if not token:
        raise fail("a token is needed: --token or ADJUTANT_TOKEN (adjutant token create)")
    if style not in ("explain", "code", "howto"):
        raise fail("--style must be explain, code or howto")
    body: dict[str, Any] = {"query": question, "response_type": style, "max_results": max_results}
    if repo:
        body["repositories"] = repo
    if source:
        body["sources"] = source
    if not stream_answer(server, token, body, out):
        raise typer.Exit(1)


def stream_answer(server: str, token: str, body: dict[str, Any], screen: Console) -> bool:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    try:
        with (
            httpx.Client(base_url=server, timeout=httpx.Timeout(10, read=300)) as client,
            client.stream("POST", "/v1/answer/stream", json=body, headers=headers) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise fail(_refusal(response), 1)
            return show_answer(sse_events(response.iter_lines()), screen)
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {server}: {exc.__class__.__name__}", 1) from None


def _refusal(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        detail = "; ".join(e.get("message", "") for e in error.get("errors") or []) or error.get("message")
        return f"{response.status_code} {error.get('message')}: {detail}"
    except (ValueError, KeyError, TypeError):
        return f"the server answered {response.status_code}"
