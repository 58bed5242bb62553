"""Anthropic Messages (streaming and not): thinking blocks with signatures, replayed in history; prompt-cache
breakpoints on the stable prefix (tools, system prompt, conversation so far)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic

from app.llm.errors import LLMError, ProviderError
from app.llm.providers import sse
from app.llm.providers.base import ModelCall, Provider, ToolCallAssembler, parse_tool_call
from app.llm.providers.http_errors import connection_failure, from_status, is_transport_error
from app.llm.types import (
    Finish,
    FinishReason,
    ImagePart,
    LLMEvent,
    LLMResponse,
    MalformedToolCallEvent,
    Message,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingPart,
    ToolCallEnd,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageEvent,
)

FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
    "refusal": "content_filter",
    "pause_turn": "other",
}
# Thinking budgets per reasoning level; the answer's own max_tokens comes on top.
THINKING_BUDGET = {"MINIMAL": 1024, "LOW": 2048, "MEDIUM": 8192, "HIGH": 24576}
CACHE = {"type": "ephemeral"}
STREAM_ERRORS = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
}


def map_anthropic_error(exc: Exception) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 400:
        return from_status(exc.status_code, _message(exc.body, str(exc.message)), exc.response.headers)
    if isinstance(exc, anthropic.APIConnectionError) or is_transport_error(exc):
        return connection_failure(exc)
    if isinstance(exc, anthropic.APIError):  # an `event: error` inside a 200 stream
        return stream_error(getattr(exc, "body", None), str(exc))
    return ProviderError(f"{exc.__class__.__name__}: {exc}")


def stream_error(body: Any, message: str) -> LLMError:
    """An `event: error` inside a 200 stream, typed by the status its error type stands for."""
    kind = body.get("error", {}).get("type") if isinstance(body, dict) else None
    return from_status(STREAM_ERRORS.get(kind or "", 500), _message(body, message))


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or fallback)
    return fallback


def _blocks(message: Message, provider: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(
                {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
            )
        elif isinstance(part, ThinkingPart):
            # Thinking is replayed only to its own provider, and only with its signature (the API checks it).
            if part.provider != provider:
                continue
            if part.redacted:
                blocks.append({"type": "redacted_thinking", "data": part.redacted})
            elif part.signature:
                blocks.append({"type": "thinking", "thinking": part.text, "signature": part.signature})
        elif isinstance(part, ToolCallPart):
            blocks.append({"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments})
        elif isinstance(part, ToolResultPart):
            content = [
                {"type": "text", "text": c.text}
                if isinstance(c, TextPart)
                else {"type": "image", "source": {"type": "base64", "media_type": c.media_type, "data": c.data}}
                for c in part.content
            ]
            blocks.append(
                {"type": "tool_result", "tool_use_id": part.tool_call_id, "content": content, "is_error": part.is_error}
            )
    return blocks


def to_messages(
    messages: tuple[Message, ...], provider: str, *, cache: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating user/assistant messages); tool results travel in user turns."""
    system: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            for part in message.parts:
                block: dict[str, Any] = {"type": "text", "text": part.text}
                if cache and part.cache_breakpoint:
                    block["cache_control"] = CACHE
                system.append(block)
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, provider)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)  # merge: the API requires strictly alternating roles
        else:
            turns.append({"role": role, "content": blocks})
    if cache and system and not any("cache_control" in b for b in system):
        system[-1]["cache_control"] = CACHE
    if cache and turns:
        # The conversation so far is the next call's prefix: cache up to the last block of the last turn.
        turns[-1]["content"][-1] = {**turns[-1]["content"][-1], "cache_control": CACHE}
    return system, turns


def request_body(call: ModelCall, provider: str) -> dict[str, Any]:
    request = call.request
    cache = request.use_cache and call.model.spec.supports_caching
    system, turns = to_messages(request.messages, provider, cache=cache)
    body: dict[str, Any] = {"model": call.route.model, "messages": turns, "max_tokens": call.max_output_tokens}
    if system:
        body["system"] = system
    if request.tools:
        tools = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools]
        if cache:
            tools[-1] = {**tools[-1], "cache_control": CACHE}
        body["tools"] = tools
        choice = request.tool_choice
        body["tool_choice"] = {
            "auto": {"type": "auto"},
            "none": {"type": "none"},
            "required": {"type": "any"},
            "tool": {"type": "tool", "name": choice.name},
        }[choice.mode]
        if not request.parallel_tool_calls and choice.mode != "none":
            body["tool_choice"]["disable_parallel_tool_use"] = True
    reasoning = call.model.spec.reasoning
    level = (
        request.reasoning
        if reasoning and request.reasoning in reasoning.supported
        else (reasoning.default if reasoning else None)
    )
    if level in THINKING_BUDGET and body.get("tool_choice", {}).get("type") in (None, "auto", "none"):
        budget = THINKING_BUDGET[level]
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body["max_tokens"] = call.max_output_tokens + budget
    elif request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)
    return body


def _usage(usage: dict[str, Any] | None) -> Usage:
    """From the wire shape of `usage` (SDK models are dumped to it first)."""
    usage = usage or {}
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    # Anthropic reports uncached input separately from cache reads and writes; ours counts all of it.
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + read + write,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self.client = client

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        try:
            stream = await self.client.messages.create(**request_body(call, self.name), stream=True)
        except Exception as exc:
            raise map_anthropic_error(exc) from exc
        tools = ToolCallAssembler()
        open_blocks: dict[int, tuple[str, str | None]] = {}  # index -> (type, tool call id)
        signatures: dict[int, list[str]] = {}
        usage = Usage()
        finish: Finish | None = None
        response = stream.response
        try:
            async for batch in sse.events(response.aiter_bytes()):
                for name, event in batch:
                    # As the SDK's own iterator: unnamed events and pings are skipped, `error` raises.
                    if name == "error":
                        message = event if isinstance(event, str) or event is None else f"{event}"
                        raise stream_error(event, message or f"Error code: {response.status_code}")
                    if name is None or name == "ping" or event is None:
                        continue
                    kind = event.get("type")
                    if kind == "content_block_delta":
                        delta = event["delta"]
                        delta_type = delta.get("type")
                        if delta_type == "text_delta":
                            if delta.get("text"):
                                yield TextDelta(text=delta["text"])
                        elif delta_type == "thinking_delta":
                            if delta.get("thinking"):
                                yield ThinkingDelta(text=delta["thinking"])
                        elif delta_type == "signature_delta":
                            signatures.setdefault(event["index"], []).append(delta["signature"])
                        elif delta_type == "input_json_delta":
                            call_id = open_blocks[event["index"]][1]
                            if delta.get("partial_json") and call_id is not None:
                                yield tools.delta(call_id, delta["partial_json"])
                    elif kind == "message_start":
                        usage = _usage(event["message"].get("usage"))
                    elif kind == "content_block_start":
                        block = event["content_block"]
                        block_type = block.get("type")
                        if block_type == "tool_use":
                            open_blocks[event["index"]] = ("tool_use", block["id"])
                            yield tools.start(block["id"], block["name"])
                        elif block_type == "redacted_thinking":
                            open_blocks[event["index"]] = ("redacted_thinking", None)
                            yield ThinkingEnd(redacted=block.get("data"))
                        else:
                            open_blocks[event["index"]] = (block_type, None)
                            if block_type == "text" and block.get("text"):
                                yield TextDelta(text=block["text"])
                            elif block_type == "thinking" and block.get("thinking"):
                                yield ThinkingDelta(text=block["thinking"])
                    elif kind == "content_block_stop":
                        block_type, call_id = open_blocks.pop(event["index"], ("", None))
                        if block_type == "tool_use" and call_id is not None:
                            yield tools.end(call_id)
                        elif block_type == "thinking":
                            yield ThinkingEnd(signature="".join(signatures.pop(event["index"], [])) or None)
                    elif kind == "message_delta":
                        if event.get("usage") is not None:
                            usage = usage.model_copy(update={"output_tokens": event["usage"].get("output_tokens") or 0})
                        stop_reason = (event.get("delta") or {}).get("stop_reason")
                        if stop_reason:
                            finish = Finish(reason=FINISH.get(stop_reason, "other"), provider_reason=stop_reason)
        except LLMError:
            raise
        except Exception as exc:
            raise map_anthropic_error(exc) from exc
        finally:
            await stream.close()
        if finish is None:
            raise ProviderError("the stream ended before the model finished", retryable=True)
        yield UsageEvent(usage=usage)
        yield finish

    async def complete(self, call: ModelCall) -> LLMResponse:
        try:
            response = await self.client.messages.create(**request_body(call, self.name))
        except Exception as exc:
            raise map_anthropic_error(exc) from exc
        parts: list[Any] = []
        malformed: list[MalformedToolCallEvent] = []
        for block in response.content:
            if block.type == "text":
                parts.append(TextPart(text=block.text))
            elif block.type == "thinking":
                parts.append(ThinkingPart(text=block.thinking, signature=block.signature, provider=self.name))
            elif block.type == "redacted_thinking":
                parts.append(ThinkingPart(redacted=block.data, provider=self.name))
            elif block.type == "tool_use":
                parsed = parse_tool_call(block.id, block.name, json.dumps(block.input))
                if isinstance(parsed, ToolCallEnd):
                    parts.append(ToolCallPart(id=parsed.id, name=parsed.name, arguments=parsed.arguments))
                else:
                    malformed.append(parsed)
        reason = FINISH.get(response.stop_reason or "", "other")
        return LLMResponse(
            message=Message(role="assistant", parts=tuple(parts)),
            usage=_usage(response.usage.model_dump()),
            finish=reason,
            provider_finish=response.stop_reason,
            malformed=tuple(malformed),
            model=call.model.name,
            provider=self.name,
        )

    async def aclose(self) -> None:
        await self.client.close()
