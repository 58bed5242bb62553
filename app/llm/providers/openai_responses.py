"""OpenAI through the Responses API (streaming and not), with reasoning items replayed statelessly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai._httpx2 import request_exceptions, timeout_exceptions

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

EFFORT = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}


def map_openai_error(exc: Exception) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return from_status(exc.status_code, _message(exc), exc.response.headers)
    if isinstance(exc, openai.APIConnectionError) or is_transport_error(exc):
        return connection_failure(exc)
    return ProviderError(f"{exc.__class__.__name__}: {exc}")


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)


async def openai_events(stream: Any) -> AsyncIterator[list[tuple[str | None, Any]]]:
    """Batches of decoded events of an SDK stream's HTTP body, failing as the SDK's own iterator would: a
    transport failure becomes its APITimeoutError / APIConnectionError, an `error` member its APIError;
    `[DONE]` ends the stream."""
    response = stream.response
    chunks = response.aiter_bytes()
    try:
        async for batch in sse.events(_sdk_errors(chunks, response.request)):
            for index, (_, data) in enumerate(batch):
                if isinstance(data, str) and data.startswith("[DONE]"):
                    if index:
                        yield batch[:index]
                    await sse.drain(chunks)
                    return
                if isinstance(data, dict) and data.get("error"):
                    error = data["error"]
                    message = error.get("message") if isinstance(error, dict) else None
                    if not message or not isinstance(message, str):
                        message = "An error occurred during streaming"
                    raise openai.APIError(message=message, request=response.request, body=error)
            yield batch
    finally:
        await response.aclose()


async def _sdk_errors(chunks: AsyncIterator[bytes], request: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except timeout_exceptions() as exc:
        raise openai.APITimeoutError(request=request) from exc
    except request_exceptions() as exc:
        raise openai.APIConnectionError(request=request) from exc


def _content(parts: tuple[Any, ...], *, role: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            items.append({"type": "output_text" if role == "assistant" else "input_text", "text": part.text})
        elif isinstance(part, ImagePart):
            items.append({"type": "input_image", "image_url": f"data:{part.media_type};base64,{part.data}"})
    return items


def to_input(messages: tuple[Message, ...], provider: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(instructions, input items) for the Responses API."""
    instructions = [m.text for m in messages if m.role == "system"]
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "user":
            items.append({"role": "user", "content": _content(message.parts, role="user")})
        elif message.role == "assistant":
            text = _content(message.parts, role="assistant")
            for part in message.parts:
                if isinstance(part, ThinkingPart) and part.provider == provider and part.item_id and part.redacted:
                    items.append(
                        {
                            "type": "reasoning",
                            "id": part.item_id,
                            "encrypted_content": part.redacted,
                            "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
                        }
                    )
            if text:
                items.append({"role": "assistant", "content": text})
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": part.id,
                            "name": part.name,
                            "arguments": json.dumps(part.arguments),
                        }
                    )
        elif message.role == "tool":
            for part in message.parts:
                if isinstance(part, ToolResultPart):
                    output = part.text if not part.is_error else f"ERROR: {part.text}"
                    items.append({"type": "function_call_output", "call_id": part.tool_call_id, "output": output})
    return ("\n\n".join(instructions) or None), items


def request_body(call: ModelCall, provider: str) -> dict[str, Any]:
    request = call.request
    instructions, items = to_input(request.messages, provider)
    body: dict[str, Any] = {
        "model": call.route.model,
        "input": items,
        "max_output_tokens": call.max_output_tokens,
        "store": False,
    }
    if instructions:
        body["instructions"] = instructions
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.input_schema,
                "strict": False,
            }
            for t in request.tools
        ]
        body["parallel_tool_calls"] = request.parallel_tool_calls
        choice = request.tool_choice
        body["tool_choice"] = {"type": "function", "name": choice.name} if choice.mode == "tool" else choice.mode
    reasoning = call.model.spec.reasoning
    if reasoning is not None:
        level = request.reasoning if request.reasoning in reasoning.supported else reasoning.default
        if level in EFFORT:
            body["reasoning"] = {"effort": EFFORT[level], "summary": "auto"}
            body["include"] = ["reasoning.encrypted_content"]
    elif request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def _usage(usage: dict[str, Any] | None) -> Usage:
    """From the wire shape of `usage` (SDK models are dumped to it first)."""
    if not usage:
        return Usage()
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def _finish(response: dict[str, Any], saw_tool_call: bool) -> Finish:
    status = response.get("status")
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        mapped: FinishReason = {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}.get(
            reason or "", "other"
        )  # type: ignore[assignment]
        return Finish(reason=mapped, provider_reason=reason)
    return Finish(reason="tool_calls" if saw_tool_call else "stop", provider_reason=status)


class OpenAIResponsesProvider(Provider):
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        try:
            stream = await self.client.responses.create(**request_body(call, self.name), stream=True)
        except Exception as exc:
            raise map_openai_error(exc) from exc
        tools = ToolCallAssembler()
        call_ids: dict[str, str] = {}  # item id -> call id
        saw_tool_call = False
        finished = False
        try:
            async for batch in openai_events(stream):
                for _, event in batch:
                    if not isinstance(event, dict):
                        continue
                    kind = event.get("type")
                    if kind == "response.output_text.delta":
                        if event.get("delta"):
                            yield TextDelta(text=event["delta"])
                    elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                        if event.get("delta"):
                            yield ThinkingDelta(text=event["delta"])
                    elif kind == "response.output_item.added" and event["item"].get("type") == "function_call":
                        item = event["item"]
                        call_ids[item.get("id") or item["call_id"]] = item["call_id"]
                        saw_tool_call = True
                        yield tools.start(item["call_id"], item["name"])
                        if item.get("arguments"):
                            yield tools.delta(item["call_id"], item["arguments"])
                    elif kind == "response.function_call_arguments.delta":
                        yield tools.delta(call_ids[event["item_id"]], event["delta"])
                    elif kind == "response.output_item.done":
                        item = event["item"]
                        if item.get("type") == "function_call":
                            yield tools.end(item["call_id"], final_arguments=item.get("arguments"))
                        elif item.get("type") == "reasoning":
                            yield ThinkingEnd(item_id=item.get("id"), redacted=item.get("encrypted_content"))
                    elif kind in ("response.completed", "response.incomplete"):
                        finished = True
                        yield UsageEvent(usage=_usage(event["response"].get("usage")))
                        yield _finish(event["response"], saw_tool_call)
                    elif kind == "response.failed":
                        error = event["response"].get("error") or {}
                        raise _stream_error(error.get("code"), error.get("message", "response failed"))
                    elif kind == "error":
                        raise _stream_error(event.get("code"), event.get("message"))
        except LLMError:
            raise
        except Exception as exc:
            raise map_openai_error(exc) from exc
        finally:
            await stream.close()
        if not finished:
            raise ProviderError("the stream ended before the model finished", retryable=True)

    async def complete(self, call: ModelCall) -> LLMResponse:
        try:
            response = await self.client.responses.create(**request_body(call, self.name))
        except Exception as exc:
            raise map_openai_error(exc) from exc
        parts: list[Any] = []
        malformed: list[MalformedToolCallEvent] = []
        for item in response.output:
            if item.type == "message":
                text = "".join(c.text for c in item.content if getattr(c, "type", "") == "output_text")
                if text:
                    parts.append(TextPart(text=text))
            elif item.type == "reasoning":
                summary = "".join(s.text for s in item.summary or [])
                parts.append(
                    ThinkingPart(
                        text=summary,
                        item_id=item.id,
                        provider=self.name,
                        redacted=getattr(item, "encrypted_content", None),
                    )
                )
            elif item.type == "function_call":
                parsed = parse_tool_call(item.call_id, item.name, item.arguments)
                if isinstance(parsed, ToolCallEnd):
                    parts.append(ToolCallPart(id=parsed.id, name=parsed.name, arguments=parsed.arguments))
                else:
                    malformed.append(parsed)
        finish = _finish(response.model_dump(), any(isinstance(p, ToolCallPart) for p in parts) or bool(malformed))
        return LLMResponse(
            message=Message(role="assistant", parts=tuple(parts)),
            usage=_usage(response.usage.model_dump() if response.usage else None),
            finish=finish.reason,
            provider_finish=finish.provider_reason,
            malformed=tuple(malformed),
            model=call.model.name,
            provider=self.name,
        )

    async def aclose(self) -> None:
        await self.client.close()


def _stream_error(code: str | None, message: str) -> LLMError:
    """Errors reported inside an SSE stream carry a code instead of an HTTP status."""
    code = (code or "").lower()
    if "rate_limit" in code or "quota" in code:
        return from_status(429, message)
    if "context_length" in code:
        return from_status(400, f"context length exceeded: {message}")
    retryable = code in ("server_error", "overloaded", "internal_error", "") or "overload" in code
    return ProviderError(message or "the response failed", retryable=retryable)
