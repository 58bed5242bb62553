"""The scripted provider: plays responses from a JSON file. Product code for tests, demos and benchmarks.

Script file::

    {"mode": "sequence" | "repeat",
     "responses": [{"thinking"?: str, "text"?: str,
                    "tool_calls"?: [{"name": str, "input"?: object, "raw_arguments"?: str, "id"?: str}],
                    "error"?: {"kind": "throttled" | "token_limit" | "provider" | "malformed", ...},
                    "chunk_chars"?: int, "delay_ms"?: int, "usage"?: {"input_tokens"?: int, "output_tokens"?: int}}]}

`sequence` plays each response once, in order, across all processes sharing the file (the position lives
in `<script>.cursor`); `repeat` cycles. Error fields: `retry_after` (throttled), `current`/`maximum`
(token_limit: raised before any output, as the router's limit check would), `status` and `after_chunks`
(provider: fail after that many text chunks, mid-stream), `reason` (malformed). A response's
`usage.input_tokens` is also what the router's pre-call token check sees, so limits can be forced.
With `record_path`, every request (messages, offered tools, tool results) and every cancellation is
appended to that file as a JSON line. The script is re-read on every call, so it can change between steps.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.llm.errors import InputTokenLimitExceeded, ProviderError, Throttled
from app.llm.providers.base import MAX_RAW_CHARS, ModelCall, Provider, ToolCallAssembler
from app.llm.tokens import count_request, count_text
from app.llm.types import (
    Finish,
    LLMEvent,
    MalformedToolCallEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingEnd,
    Usage,
    UsageEvent,
)

REMEMBERED_REQUESTS = 256


class ScriptModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedToolCall(ScriptModel):
    name: str
    input: dict[str, Any] | None = None
    raw_arguments: str | None = None  # sent verbatim, e.g. to test malformed JSON
    id: str | None = None


class ScriptedError(ScriptModel):
    kind: Literal["throttled", "token_limit", "provider", "malformed"]
    message: str | None = None
    retry_after: float | None = None
    current: int | None = None
    maximum: int | None = None
    status: int = 500
    after_chunks: int | None = None
    reason: str | None = None
    raw: str | None = None


class ScriptedUsage(ScriptModel):
    input_tokens: int | None = None
    output_tokens: int | None = None


class ScriptedResponse(ScriptModel):
    thinking: str | None = None
    text: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    error: ScriptedError | None = None
    chunk_chars: int = Field(default=16, ge=1)
    delay_ms: int = Field(default=0, ge=0)
    usage: ScriptedUsage = ScriptedUsage()


class Script(ScriptModel):
    mode: Literal["sequence", "repeat"] = "sequence"
    responses: list[ScriptedResponse] = Field(min_length=1)


def load_script(path: Path) -> Script:
    try:
        return Script.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ProviderError(f"invalid script {path}: {exc}") from None


class ScriptCursor:
    """The position in a sequence script, shared by every process that plays the same file."""

    def __init__(self, script_path: Path) -> None:
        self.path = script_path.with_name(script_path.name + ".cursor")

    def _locked(self, advance: bool) -> int:
        self.path.touch(exist_ok=True)
        with self.path.open("r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                raw = handle.read().strip()
                position = int(raw) if raw else 0
                if advance:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(str(position + 1))
                return position
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def peek(self) -> int:
        return self._locked(advance=False)

    def take(self) -> int:
        return self._locked(advance=True)


class ScriptedProvider(Provider):
    name = "scripted"

    def __init__(self, remembered: int = REMEMBERED_REQUESTS) -> None:
        # The last few requests this process saw, for in-process tests; a long-running demo or benchmark
        # must not keep every prompt in memory (the complete log is `record_path`).
        self.requests: deque[dict[str, Any]] = deque(maxlen=remembered)

    def _pick(self, call: ModelCall, *, advance: bool) -> tuple[int, ScriptedResponse]:
        path = Path(call.route.script_path)
        script = load_script(path)
        cursor = ScriptCursor(path)
        position = cursor.take() if advance else cursor.peek()
        if script.mode == "repeat":
            return position, script.responses[position % len(script.responses)]
        if position >= len(script.responses):
            raise ProviderError(f"script {path.name} has no response #{position + 1}", status=500)
        return position, script.responses[position]

    async def count_tokens(self, call: ModelCall) -> int | None:
        try:
            _, response = self._pick(call, advance=False)
        except ProviderError:
            return None
        return response.usage.input_tokens

    def _record(self, call: ModelCall, entry: dict[str, Any]) -> None:
        entry = {"time": time.time(), "model": call.model.name, **entry}
        self.requests.append(entry)
        if call.route.record_path:
            with Path(call.route.record_path).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, default=str) + "\n")

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        index, response = self._pick(call, advance=True)
        self._record(
            call,
            {
                "event": "request",
                "response": index,
                "purpose": call.request.purpose,
                "messages": [m.model_dump(mode="json") for m in call.request.messages],
                "tools": [t.name for t in call.request.tools],
                "tool_choice": call.request.tool_choice.mode,
                "reasoning": call.request.reasoning,
            },
        )
        finished = False
        try:
            async for event in self._play(call, response):
                yield event
            finished = True
        finally:
            if not finished:
                self._record(call, {"event": "cancelled", "response": index})

    async def _play(self, call: ModelCall, response: ScriptedResponse) -> AsyncIterator[LLMEvent]:
        error = response.error
        if error is not None and error.after_chunks is None:
            match error.kind:
                case "throttled":
                    raise Throttled(error.message or "rate limited (scripted)", retry_after=error.retry_after)
                case "token_limit":
                    raise InputTokenLimitExceeded(error.current or 0, error.maximum or 0)
                case "provider":
                    raise ProviderError(
                        error.message or "provider failure (scripted)",
                        status=error.status,
                        retryable=error.status >= 500,
                    )
        delay = response.delay_ms / 1000

        async def pace() -> None:
            if delay:
                await asyncio.sleep(delay)

        if response.thinking:
            for chunk in _chunks(response.thinking, response.chunk_chars):
                await pace()
                yield ThinkingDelta(text=chunk)
            yield ThinkingEnd(signature="scripted-signature")
        for sent, chunk in enumerate(_chunks(response.text or "", response.chunk_chars)):
            if error is not None and error.after_chunks is not None and sent >= error.after_chunks:
                raise ProviderError(error.message or "stream broke (scripted)", status=error.status, retryable=True)
            await pace()
            yield TextDelta(text=chunk)
        if error is not None and error.after_chunks is not None:
            raise ProviderError(error.message or "stream broke (scripted)", status=error.status, retryable=True)

        assembler = ToolCallAssembler()
        for position, tool in enumerate(response.tool_calls):
            call_id = tool.id or f"call_{position + 1}_{int(time.time() * 1000) % 100000:05d}"
            raw = tool.raw_arguments if tool.raw_arguments is not None else json.dumps(tool.input or {})
            yield assembler.start(call_id, tool.name)
            for chunk in _chunks(raw, response.chunk_chars) or [""]:
                await pace()
                yield assembler.delta(call_id, chunk)
            yield assembler.end(call_id)
        if error is not None and error.kind == "malformed":
            raw = error.raw or ""
            yield MalformedToolCallEvent(raw=raw[:MAX_RAW_CHARS], reason=error.reason or "malformed function call")

        output = response.usage.output_tokens
        yield UsageEvent(
            usage=Usage(
                input_tokens=response.usage.input_tokens or count_request(call.request),
                output_tokens=output
                if output is not None
                else count_text((response.thinking or "") + (response.text or "")),
            )
        )
        if error is not None and error.kind == "malformed":
            yield Finish(reason="malformed_tool_call", provider_reason="MALFORMED_FUNCTION_CALL")
        else:
            yield Finish(reason="tool_calls" if response.tool_calls else "stop")


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
