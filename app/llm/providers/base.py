"""The adapter interface and the pieces every adapter shares."""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.llm.errors import ProviderError
from app.llm.registry import RegisteredModel
from app.llm.types import (
    ErrorEvent,
    Finish,
    LLMEvent,
    LLMRequest,
    LLMResponse,
    MalformedToolCallEvent,
    Message,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageEvent,
)
from app.runtime.settings import ModelRoute

MAX_RAW_CHARS = 4096  # raw payloads of malformed calls are truncated (docs/protocol.md §5.5)


@dataclass(frozen=True)
class ModelCall:
    """A request bound to the model and the route that will serve it."""

    request: LLMRequest
    model: RegisteredModel
    route: ModelRoute

    @property
    def max_output_tokens(self) -> int:
        asked = self.request.max_output_tokens
        limit = self.model.spec.output_token_limit
        return min(asked, limit) if asked else limit


class Provider(abc.ABC):
    """One adapter per provider API: turns a provider-neutral `ModelCall` into that API's request and its
    answer back into `LLMEvent`s; no provider shape leaks past it. Retries and fallback are the router's."""

    name: str

    @abc.abstractmethod
    def stream(self, call: ModelCall) -> AsyncIterator[LLMEvent]:
        """Stream provider-neutral events; raise `LLMError` subclasses for failures."""

    async def complete(self, call: ModelCall) -> LLMResponse:
        """A whole answer. Adapters with a native non-streaming API override this."""
        return await collect(self.stream(call), provider=self.name, model=call.model.name)

    async def count_tokens(self, call: ModelCall) -> int | None:
        """A provider-accurate input count when one is cheaply known; None = use the offline estimate."""
        return None

    async def aclose(self) -> None:
        return None


class ToolCallAssembler:
    """Collects argument fragments per call and, at the end, yields the parsed call or a malformed one."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.buffers: dict[str, list[str]] = {}

    def start(self, call_id: str, name: str) -> ToolCallStart:
        self.names[call_id] = name
        self.buffers[call_id] = []
        return ToolCallStart(id=call_id, name=name)

    def delta(self, call_id: str, fragment: str) -> ToolCallDelta:
        self.buffers[call_id].append(fragment)
        return ToolCallDelta(id=call_id, arguments_delta=fragment)

    def open_ids(self) -> list[str]:
        return list(self.buffers)

    def end(self, call_id: str, *, final_arguments: str | None = None) -> ToolCallEnd | MalformedToolCallEvent:
        name = self.names.pop(call_id)
        raw = "".join(self.buffers.pop(call_id))
        if final_arguments is not None:
            raw = final_arguments
        return parse_tool_call(call_id, name, raw)


def parse_tool_call(call_id: str, name: str, raw: str) -> ToolCallEnd | MalformedToolCallEvent:
    text = raw.strip() or "{}"
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        return MalformedToolCallEvent(
            id=call_id,
            name=name,
            raw=raw[:MAX_RAW_CHARS],
            reason=f"arguments are not valid JSON: {exc.msg} at char {exc.pos}",
        )
    if not isinstance(arguments, dict):
        return MalformedToolCallEvent(
            id=call_id, name=name, raw=raw[:MAX_RAW_CHARS], reason="arguments must be a JSON object"
        )
    return ToolCallEnd(id=call_id, name=name, arguments=arguments)


@dataclass
class _Collected:
    parts: list[Any] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    malformed: list[MalformedToolCallEvent] = field(default_factory=list)

    def flush_text(self) -> None:
        if self.text:
            self.parts.append(TextPart(text="".join(self.text)))
            self.text.clear()


async def collect(
    events: AsyncIterator[LLMEvent], *, provider: str | None = None, model: str | None = None
) -> LLMResponse:
    """Fold a stream into one response; an error event raises it as `ProviderError`."""
    acc = _Collected()
    finish: Finish | None = None
    async for event in events:
        match event:
            case TextDelta():
                acc.text.append(event.text)
            case ThinkingDelta():
                acc.thinking.append(event.text)
            case ThinkingEnd():
                acc.flush_text()
                acc.parts.append(
                    ThinkingPart(
                        text="".join(acc.thinking),
                        signature=event.signature,
                        redacted=event.redacted,
                        item_id=event.item_id,
                        provider=provider,
                    )
                )
                acc.thinking.clear()
            case ToolCallEnd():
                acc.flush_text()
                acc.parts.append(
                    ToolCallPart(id=event.id, name=event.name, arguments=event.arguments, signature=event.signature)
                )
            case MalformedToolCallEvent():
                acc.malformed.append(event)
            case UsageEvent():
                acc.usage = acc.usage + event.usage
            case Finish():
                finish = event
            case ErrorEvent():
                raise ProviderError(event.message, model=event.model, provider=event.provider)
    acc.flush_text()
    if finish is None:
        raise ProviderError("the stream ended without a finish", provider=provider, model=model)
    return LLMResponse(
        message=Message(role="assistant", parts=tuple(acc.parts)),
        usage=acc.usage,
        finish=finish.reason,
        provider_finish=finish.provider_reason,
        malformed=tuple(acc.malformed),
        model=model,
        provider=provider,
    )


def events_of(response: LLMResponse) -> Iterable[LLMEvent]:
    """The events a stream of `response` would have carried (for adapters that answer in one piece)."""
    for part in response.message.parts:
        if isinstance(part, TextPart):
            yield TextDelta(text=part.text)
        elif isinstance(part, ThinkingPart):
            if part.text:
                yield ThinkingDelta(text=part.text)
            yield ThinkingEnd(signature=part.signature, redacted=part.redacted, item_id=part.item_id)
        elif isinstance(part, ToolCallPart):
            yield ToolCallStart(id=part.id, name=part.name)
            yield ToolCallDelta(id=part.id, arguments_delta=json.dumps(part.arguments))
            yield ToolCallEnd(id=part.id, name=part.name, arguments=part.arguments, signature=part.signature)
    yield from response.malformed
    yield UsageEvent(usage=response.usage)
    yield Finish(reason=response.finish, provider_reason=response.provider_finish)
