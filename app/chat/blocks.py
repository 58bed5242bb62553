"""Turning a model's output into protocol blocks: text, thinking, code, plans; one block open at a time,
each persisted as a chat element when it ends (and, partially, when the step fails or is cancelled)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.chat.markup import MarkupEvent, MarkupParser
from app.chat.step_stream import StepEmitter

Persist = Callable[[str, dict[str, Any]], Awaitable[None]]  # (message_type, payload) of an ASSISTANT element


def diff_counts(diff: str) -> tuple[int, int]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed


class BlockWriter:
    def __init__(self, emitter: StepEmitter, persist: Persist, on_boundary: Callable[[], None]) -> None:
        self.emitter = emitter
        self.persist = persist
        self.on_boundary = on_boundary
        self.parser = MarkupParser()
        self.open: str | None = None  # "text" | "thinking" | "code"
        self.content: list[str] = []
        self.attributes: dict[str, Any] = {}
        self.summary: str | None = None
        self.blocks = 0  # blocks completed in this step

    # --- input ------------------------------------------------------------------------------------------

    async def text(self, chunk: str) -> None:
        for event in self.parser.feed(chunk):
            await self._apply(event)

    async def thinking(self, chunk: str) -> None:
        """Native (provider) thinking: its own block, outside the markup."""
        if self.open != "thinking":
            await self.interrupt()
            self._start("thinking")
            self.emitter.emit("THINKING_BLOCK_START")
        if chunk:
            self.content.append(chunk)
            self.emitter.emit("THINKING_BLOCK_DELTA", {"thinking_delta": chunk})

    async def thinking_end(self) -> None:
        if self.open == "thinking":
            await self._end_thinking()

    async def interrupt(self) -> None:
        """Close whatever the markup has open (a tool call or native thinking comes next)."""
        for event in self.parser.finish():
            await self._apply(event)
        self.parser = MarkupParser()
        if self.open == "thinking":
            await self._end_thinking()

    async def finish(self) -> None:
        await self.interrupt()

    async def fail(self) -> None:
        """On an error: close an open text block properly, keep the partial content of any block."""
        if self.open == "text":
            for event in self.parser.finish():
                if event.kind in ("text", "text_end"):
                    await self._apply(event)
            self.parser = MarkupParser()
        await self.abandon()

    async def abandon(self) -> None:
        """On cancel: persist what was generated, emit nothing more."""
        if self.open is not None and self.content:
            await self._persist_open()
        self.open, self.content = None, []

    # --- output -----------------------------------------------------------------------------------------

    def _start(self, kind: str, attributes: dict[str, Any] | None = None) -> None:
        self.open = kind
        self.content = []
        self.attributes = attributes or {}

    async def _apply(self, event: MarkupEvent) -> None:
        kind = event.kind
        if kind == "text_start":
            self._start("text")
            self.emitter.emit("TEXT_START")
        elif kind == "text":
            if event.text:
                self.content.append(event.text)
                self.emitter.emit("TEXT_DELTA", {"text": event.text})
        elif kind == "text_end":
            self.emitter.emit("TEXT_BLOCK_END")
            await self._persist_open()
            self._ended()
        elif kind == "thinking_start":
            self._start("thinking")
            self.emitter.emit("THINKING_BLOCK_START")
        elif kind == "thinking":
            self.content.append(event.text)
            self.emitter.emit("THINKING_BLOCK_DELTA", {"thinking_delta": event.text})
        elif kind == "thinking_end":
            await self._end_thinking()
        elif kind == "code_start":
            self._start("code", event.attributes)
            self.emitter.emit(
                "CODE_BLOCK_START",
                {
                    "language": event.attributes["language"],
                    "filepath": event.attributes["file_path"],
                    "is_diff": event.attributes["is_diff"],
                },
            )
        elif kind == "code":
            self.content.append(event.text)
            self.emitter.emit("CODE_BLOCK_DELTA", {"code_delta": event.text})
        elif kind == "code_end":
            code = "".join(self.content)
            if self.attributes.get("is_diff"):
                added, removed = diff_counts(code)
                self.emitter.emit("CODE_BLOCK_END", {"diff": code, "added_lines": added, "removed_lines": removed})
            else:
                self.emitter.emit("CODE_BLOCK_END", {"diff": None, "added_lines": None, "removed_lines": None})
            await self._persist_open()
            self._ended()
        elif kind == "plan":
            steps = event.attributes["steps"]
            self.emitter.emit("TASK_PLAN", {"latest_plan_steps": steps})
            await self.persist("TASK_PLAN", {"latest_plan_steps": steps})
            self._ended()
        elif kind == "summary":
            self.summary = event.text[:300] or None

    async def _end_thinking(self) -> None:
        self.emitter.emit("THINKING_BLOCK_END")
        await self._persist_open()
        self._ended()

    def _ended(self) -> None:
        self.open, self.content = None, []
        self.blocks += 1
        self.on_boundary()

    async def _persist_open(self) -> None:
        if self.open is not None:
            await self.persist(*element_of(self.open, "".join(self.content), self.attributes))


def element_of(kind: str, text: str, attributes: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The chat element (message type, payload) of a text, thinking or code block with this content."""
    if kind == "text":
        return "TEXT", {"text": text}
    if kind == "thinking":
        return "THINKING", {"thinking_summary": text, "thinking_status": "COMPLETED"}
    is_diff = bool(attributes.get("is_diff"))
    added, removed = diff_counts(text) if is_diff else (0, 0)
    # Plain code carries diff "" (never null: the client renders any non-"" diff as a diff).
    return "CODE_BLOCK", {
        "language": attributes.get("language", ""),
        "file_path": attributes.get("file_path", ""),
        "code": text,
        "diff": text if is_diff else "",
        "added_lines": added,
        "removed_lines": removed,
    }
