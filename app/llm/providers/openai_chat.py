"""Chat Completions: OpenAI-compatible servers by base URL (OpenRouter, Ollama, vLLM, LM Studio, llama.cpp
server) and OpenAI itself when a route asks for `api = "chat"`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai

from app.llm.errors import LLMError, ProviderError
from app.llm.providers.base import ModelCall, Provider, ToolCallAssembler, parse_tool_call
from app.llm.providers.openai_responses import EFFORT, map_openai_error, openai_events
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
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
    "content_filter": "content_filter",
}


def to_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            out.append({"role": "system", "content": message.text})
        elif message.role == "user":
            if all(isinstance(p, TextPart) for p in message.parts):
                out.append({"role": "user", "content": message.text})
            else:
                out.append(
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": p.text}
                            if isinstance(p, TextPart)
                            else {"type": "image_url", "image_url": {"url": f"data:{p.media_type};base64,{p.data}"}}
                            for p in message.parts
                            if isinstance(p, TextPart | ImagePart)
                        ],
                    }
                )
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
            if calls:
                entry["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                    for c in calls
                ]
            out.append(entry)
        else:
            for part in message.parts:
                if isinstance(part, ToolResultPart):
                    content = part.text if not part.is_error else f"ERROR: {part.text}"
                    out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": content})
    return out


def request_body(call: ModelCall) -> dict[str, Any]:
    request = call.request
    body: dict[str, Any] = {
        "model": call.route.model,
        "messages": to_messages(request.messages),
        "max_tokens": call.max_output_tokens,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in request.tools
        ]
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if choice.mode == "tool" else choice.mode
        )
        if not request.parallel_tool_calls:
            body["parallel_tool_calls"] = False
    reasoning = call.model.spec.reasoning
    if reasoning is not None:
        level = request.reasoning if request.reasoning in reasoning.supported else reasoning.default
        if level in EFFORT:
            body["reasoning_effort"] = EFFORT[level]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def _usage(usage: dict[str, Any] | None) -> Usage:
    """From the wire shape of `usage` (SDK models are dumped to it first)."""
    if not usage:
        return Usage()
    return Usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cache_read_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def _reasoning_text(delta: dict[str, Any]) -> str | None:
    """Servers put reasoning in different places: `reasoning_content` (DeepSeek, vLLM) or `reasoning`."""
    for name in ("reasoning_content", "reasoning"):
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return None


class OpenAIChatProvider(Provider):
    def __init__(self, client: openai.AsyncOpenAI, name: str = "openai_compatible") -> None:
        self.client = client
        self.name = name

    async def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        try:
            stream = await self.client.chat.completions.create(
                **request_body(call), stream=True, stream_options={"include_usage": True}
            )
        except Exception as exc:
            raise map_openai_error(exc) from exc
        tools = ToolCallAssembler()
        ids_by_index: dict[int, str] = {}
        thinking_open = False
        finish: Finish | None = None
        usage: Usage | None = None
        try:
            async for batch in openai_events(stream):
                for _, chunk in batch:
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("usage") is not None:
                        usage = _usage(chunk["usage"])
                    for choice in (chunk.get("choices") or [])[:1]:
                        delta = choice.get("delta") or {}
                        if ("reasoning_content" in delta or "reasoning" in delta) and (
                            reasoning := _reasoning_text(delta)
                        ):
                            thinking_open = True
                            yield ThinkingDelta(text=reasoning)
                        content = delta.get("content")
                        if content:
                            if thinking_open:
                                thinking_open = False
                                yield ThinkingEnd()
                            yield TextDelta(text=content)
                        for fragment in delta.get("tool_calls") or []:
                            if thinking_open:
                                thinking_open = False
                                yield ThinkingEnd()
                            index = fragment.get("index")
                            function = fragment.get("function")
                            if index not in ids_by_index:
                                call_id = fragment.get("id") or f"call_{index}"
                                ids_by_index[index] = call_id
                                yield tools.start(call_id, function.get("name") if function else "")
                            arguments = function.get("arguments") if function else None
                            if arguments:
                                yield tools.delta(ids_by_index[index], arguments)
                        reason = choice.get("finish_reason")
                        if reason:
                            finish = Finish(reason=FINISH.get(reason, "other"), provider_reason=reason)
        except LLMError:
            raise
        except Exception as exc:
            raise map_openai_error(exc) from exc
        finally:
            await stream.close()
        if thinking_open:
            yield ThinkingEnd()
        for call_id in tools.open_ids():
            yield tools.end(call_id)
        if finish is None:
            # The connection ended without a finish_reason: the answer may be cut short.
            raise ProviderError("the stream ended before the model finished", retryable=True)
        yield UsageEvent(usage=usage or Usage())
        if finish.reason == "stop" and ids_by_index:
            finish = Finish(reason="tool_calls", provider_reason=finish.provider_reason)
        yield finish

    async def complete(self, call: ModelCall) -> LLMResponse:
        try:
            response = await self.client.chat.completions.create(**request_body(call))
        except Exception as exc:
            raise map_openai_error(exc) from exc
        choice = response.choices[0]
        parts: list[Any] = []
        malformed: list[MalformedToolCallEvent] = []
        reasoning = _reasoning_text(choice.message.model_dump())
        if reasoning:
            parts.append(ThinkingPart(text=reasoning, provider=self.name))
        if choice.message.content:
            parts.append(TextPart(text=choice.message.content))
        for tool_call in choice.message.tool_calls or []:
            parsed = parse_tool_call(tool_call.id, tool_call.function.name, tool_call.function.arguments)
            if isinstance(parsed, ToolCallEnd):
                parts.append(ToolCallPart(id=parsed.id, name=parsed.name, arguments=parsed.arguments))
            else:
                malformed.append(parsed)
        reason = FINISH.get(choice.finish_reason or "", "other")
        return LLMResponse(
            message=Message(role="assistant", parts=tuple(parts)),
            usage=_usage(response.usage.model_dump() if response.usage else None),
            finish=reason,
            provider_finish=choice.finish_reason,
            malformed=tuple(malformed),
            model=call.model.name,
            provider=self.name,
        )

    async def aclose(self) -> None:
        await self.client.close()
