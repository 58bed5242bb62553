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
from google.genai import _common as genai_common
from google.genai import errors as genai_errors
from google.genai import models as genai_models
from google.genai import types as genai_types

from app.llm.errors import LLMError, ProviderError, Throttled
from app.llm.providers import sse
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


def _usage(meta: dict[str, Any] | None) -> Usage:
    """From the wire shape of `usageMetadata`."""
    if not meta:
        return Usage()
    thoughts = meta.get("thoughtsTokenCount") or 0
    return Usage(
        input_tokens=meta.get("promptTokenCount") or 0,
        output_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=meta.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def _signature(value: str) -> str:
    """Thought signatures are replayed in standard base64, whichever alphabet the wire used."""
    return base64.b64encode(base64.urlsafe_b64decode(value)).decode()


async def _single(response: Any) -> AsyncIterator[list[dict[str, Any]]]:
    yield [response.model_dump(mode="json", by_alias=True, exclude_none=True)]


async def events_from_chunks(
    batches: AsyncIterator[list[dict[str, Any]]], *, finish_messages: bool = True
) -> AsyncIterator[LLMEvent]:
    """Translate GenerateContentResponse chunks in their wire shape (a stream, or one whole response).
    `finish_messages=False` ignores `finishMessage`, as the SDK's AI Studio models (not Vertex's) always did."""
    tools = ToolCallAssembler()
    usage = Usage()
    finish_name: str | None = None
    thinking_open = False
    saw_call = False
    message = ""
    try:
        async for batch in batches:
            for chunk in batch:
                if chunk.get("usageMetadata") is not None:
                    usage = _usage(chunk["usageMetadata"])
                for candidate in (chunk.get("candidates") or [])[:1]:
                    finish_name = candidate.get("finishReason") or finish_name
                    if finish_messages:
                        message = candidate.get("finishMessage") or message
                    for part in (candidate.get("content") or {}).get("parts") or []:
                        text = part.get("text")
                        function = part.get("functionCall")
                        if part.get("thought") and text:
                            thinking_open = True
                            yield ThinkingDelta(text=text)
                            continue
                        if thinking_open and (text or function):
                            thinking_open = False
                            yield ThinkingEnd()
                        if function is not None:
                            saw_call = True
                            call_id = function.get("id") or f"call_{uuid.uuid4().hex[:24]}"
                            yield tools.start(call_id, function.get("name") or "")
                            yield tools.delta(call_id, json.dumps(function.get("args") or {}))
                            end = tools.end(call_id)
                            if part.get("thoughtSignature") and end.kind == "tool_call_end":
                                end = end.model_copy(update={"signature": _signature(part["thoughtSignature"])})
                            yield end
                        elif text:
                            yield TextDelta(text=text)
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


async def _open_stream(client: genai.Client, model: str, contents: list[dict[str, Any]], config: dict[str, Any]) -> Any:
    """The SDK builds, authenticates and sends `streamGenerateContent` and raises its typed status errors, as in
    its own `generate_content_stream`; the HTTP body is returned unread (its per-chunk models cost ~90 µs)."""
    api = client.aio.models._api_client
    params = genai_types._GenerateContentParameters(model=model, contents=contents, config=config)
    to_wire = (
        genai_models._GenerateContentParameters_to_vertex
        if api.vertexai
        else genai_models._GenerateContentParameters_to_mldev
    )
    request = to_wire(api, params, None, params)
    path = "{model}:streamGenerateContent?alt=sse".format_map(request.get("_url") or {})
    request.pop("config", None)
    request = genai_common.encode_unserializable_types(genai_common.convert_to_dict(request))
    http_request = api._build_request("post", path, request, None)
    return await api._async_request(http_request=http_request, http_options=None, stream=True)


async def _payloads(answer: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of JSON chunks of a stream; an `error` chunk raises the SDK's APIError for its code."""
    response = answer.response_stream
    try:
        async for batch in sse.events(response.aiter_bytes()):
            payloads = []
            for _, data in batch:
                if isinstance(data, dict) and data and next(iter(data)) == "error":
                    code = (data["error"] or {}).get("code") if isinstance(data["error"], dict) else None
                    await genai_errors.APIError.raise_error_async(code, data, answer)
                if isinstance(data, dict):
                    payloads.append(data)
            yield payloads
    finally:
        await response.aclose()


class GeminiProvider(Provider):
    def __init__(self, client: genai.Client, name: str = "gemini") -> None:
        self.client = client
        self.name = name

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        _, contents = to_contents(call.request.messages)
        try:
            answer = await _open_stream(self.client, call.route.model, contents, request_config(call))
        except Exception as exc:
            raise map_gemini_error(exc) from exc
        payloads = _payloads(answer)
        try:
            async for event in events_from_chunks(payloads, finish_messages=bool(self.client.vertexai)):
                yield event
        finally:
            await payloads.aclose()

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
