"""Google Gemini through `google-genai`, on AI Studio or Vertex AI (streaming and not).

Gemini has no tool-call ids, so we synthesise them; thought parts become thinking events; thought
signatures ride on the calls they belong to and are replayed with them; `MALFORMED_FUNCTION_CALL` is a
malformed-call event, never a normal stop.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from google import genai
from google.genai import errors as genai_errors

from app.llm.errors import LLMError, ProviderError, Throttled
from app.llm.providers.base import MAX_RAW_CHARS, ModelCall, Provider, ToolCallAssembler, collect
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
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageEvent,
)

FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "MALFORMED_FUNCTION_CALL": "malformed_tool_call",
    "UNEXPECTED_TOOL_CALL": "malformed_tool_call",
}
MALFORMED = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"}
THINKING_BUDGET = {"NONE": 0, "MINIMAL": 512, "LOW": 2048, "MEDIUM": 8192, "HIGH": 24576}
RETRY_DELAY = re.compile(r"^([\d.]+)s$")


def map_gemini_error(exc: Exception) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        headers = dict(getattr(exc.response, "headers", {}) or {})
        error = from_status(exc.code or 500, exc.message or str(exc), headers)
        if isinstance(error, Throttled) and error.retry_after is None:
            error.retry_after = _retry_info(exc.details)
        return error
    if is_transport_error(exc) or isinstance(exc, OSError):
        return connection_failure(exc)
    return ProviderError(f"{exc.__class__.__name__}: {exc}")


def _retry_info(details: Any) -> float | None:
    """Gemini states the wait in a google.rpc.RetryInfo detail ("retryDelay": "7s")."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(detail, dict) and "retryDelay" in detail:
            match = RETRY_DELAY.match(str(detail["retryDelay"]))
            if match:
                return float(match.group(1))
    return None


def to_contents(messages: tuple[Message, ...]) -> tuple[str | None, list[dict[str, Any]]]:
    system = "\n\n".join(m.text for m in messages if m.role == "system") or None
    contents: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "model" if message.role == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart) and part.text:
                parts.append({"text": part.text})
            elif isinstance(part, ImagePart):
                parts.append({"inline_data": {"mime_type": part.media_type, "data": base64.b64decode(part.data)}})
            elif isinstance(part, ToolCallPart):
                entry: dict[str, Any] = {"function_call": {"name": part.name, "args": part.arguments}}
                if part.signature:
                    entry["thought_signature"] = base64.b64decode(part.signature)
                parts.append(entry)
            elif isinstance(part, ToolResultPart):
                key = "error" if part.is_error else "output"
                parts.append({"function_response": {"name": part.name, "response": {key: part.text}}})
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def request_config(call: ModelCall) -> dict[str, Any]:
    request = call.request
    system, _ = to_contents(request.messages)
    config: dict[str, Any] = {"max_output_tokens": call.max_output_tokens}
    if system:
        config["system_instruction"] = system
    if request.tools:
        config["tools"] = [
            {
                "function_declarations": [
                    {"name": t.name, "description": t.description, "parameters_json_schema": t.input_schema}
                    for t in request.tools
                ]
            }
        ]
        choice = request.tool_choice
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[choice.mode]
        calling: dict[str, Any] = {"mode": mode}
        if choice.mode == "tool":
            calling["allowed_function_names"] = [choice.name]
        config["tool_config"] = {"function_calling_config": calling}
        config["automatic_function_calling"] = {"disable": True}
    reasoning = call.model.spec.reasoning
    if reasoning is not None:
        level = request.reasoning if request.reasoning in reasoning.supported else reasoning.default
        config["thinking_config"] = {"include_thoughts": level != "NONE", "thinking_budget": THINKING_BUDGET[level]}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    return config


def _usage(meta: Any) -> Usage:
    if meta is None:
        return Usage()
    return Usage(
        input_tokens=getattr(meta, "prompt_token_count", 0) or 0,
        output_tokens=(getattr(meta, "candidates_token_count", 0) or 0)
        + (getattr(meta, "thoughts_token_count", 0) or 0),
        cache_read_tokens=getattr(meta, "cached_content_token_count", 0) or 0,
        reasoning_tokens=getattr(meta, "thoughts_token_count", 0) or 0,
    )


def _finish_name(candidate: Any) -> str | None:
    reason = getattr(candidate, "finish_reason", None)
    if reason is None:
        return None
    return getattr(reason, "value", None) or str(reason)


async def _single(response: Any) -> AsyncIterator[Any]:
    yield response


async def events_from_chunks(chunks: AsyncIterator[Any]) -> AsyncIterator[LLMEvent]:
    """Translate GenerateContentResponse chunks (a stream, or one whole response) into events."""
    tools = ToolCallAssembler()
    usage = Usage()
    finish_name: str | None = None
    thinking_open = False
    saw_call = False
    message = ""
    try:
        async for chunk in chunks:
            if chunk.usage_metadata is not None:
                usage = _usage(chunk.usage_metadata)
            for candidate in (chunk.candidates or [])[:1]:
                finish_name = _finish_name(candidate) or finish_name
                message = getattr(candidate, "finish_message", None) or message
                for part in (candidate.content.parts or []) if candidate.content else []:
                    if part.thought and part.text:
                        thinking_open = True
                        yield ThinkingDelta(text=part.text)
                        continue
                    if thinking_open and (part.text or part.function_call):
                        thinking_open = False
                        yield ThinkingEnd()
                    if part.function_call is not None:
                        saw_call = True
                        function = part.function_call
                        call_id = function.id or f"call_{uuid.uuid4().hex[:24]}"
                        yield tools.start(call_id, function.name or "")
                        yield tools.delta(call_id, json.dumps(function.args or {}))
                        end = tools.end(call_id)
                        if part.thought_signature and end.kind == "tool_call_end":
                            signature = base64.b64encode(part.thought_signature).decode()
                            end = end.model_copy(update={"signature": signature})
                        yield end
                    elif part.text:
                        yield TextDelta(text=part.text)
    except LLMError:
        raise
    except Exception as exc:
        raise map_gemini_error(exc) from exc
    if thinking_open:
        yield ThinkingEnd()
    if finish_name is None:
        raise ProviderError("the stream ended before the model finished", retryable=True)
    if finish_name in MALFORMED:
        yield MalformedToolCallEvent(raw=(message or "")[:MAX_RAW_CHARS], reason=f"Gemini reported {finish_name}")
    yield UsageEvent(usage=usage)
    reason = FINISH.get(finish_name, "other")
    if reason == "stop" and saw_call:
        reason = "tool_calls"
    yield Finish(reason=reason, provider_reason=finish_name)


class GeminiProvider(Provider):
    def __init__(self, client: genai.Client, name: str = "gemini") -> None:
        self.client = client
        self.name = name

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        _, contents = to_contents(call.request.messages)
        try:
            stream = await self.client.aio.models.generate_content_stream(
                model=call.route.model, contents=contents, config=request_config(call)
            )
        except Exception as exc:
            raise map_gemini_error(exc) from exc
        try:
            async for event in events_from_chunks(stream):
                yield event
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    async def complete(self, call: ModelCall) -> LLMResponse:
        _, contents = to_contents(call.request.messages)
        try:
            response = await self.client.aio.models.generate_content(
                model=call.route.model, contents=contents, config=request_config(call)
            )
        except Exception as exc:
            raise map_gemini_error(exc) from exc
        return await collect(events_from_chunks(_single(response)), provider=self.name, model=call.model.name)

    async def aclose(self) -> None:
        await self.client.aio.aclose()
