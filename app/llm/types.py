"""The provider-neutral model of conversations and streamed output.

Agents and the chat layer speak only these types; each adapter in `app.llm.providers` translates them to
and from one provider's shapes. Nothing a provider streams is dropped: text, thinking (with the signature
needed to replay it), tool calls (announced, their argument fragments, then the parsed arguments), usage,
the finish reason, and typed errors.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReasoningLevel = Literal["NONE", "MINIMAL", "LOW", "MEDIUM", "HIGH"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- message parts ------------------------------------------------------------------------------------------


class TextPart(Frozen):
    type: Literal["text"] = "text"
    text: str
    cache_breakpoint: bool = False  # end of a stable prefix worth caching (Anthropic cache_control)


class ImagePart(Frozen):
    type: Literal["image"] = "image"
    media_type: str
    data: str  # base64


class ThinkingPart(Frozen):
    """Model reasoning. `signature` (and `redacted`) must be replayed verbatim to the provider that made it."""

    type: Literal["thinking"] = "thinking"
    text: str = ""
    signature: str | None = None
    redacted: str | None = None  # Anthropic redacted_thinking data / OpenAI encrypted reasoning content
    provider: str | None = None  # thinking is only replayed to the same provider
    item_id: str | None = None  # OpenAI reasoning item id


class ToolCallPart(Frozen):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any]
    signature: str | None = None  # Gemini thought signature (base64), replayed with the call


class ToolResultPart(Frozen):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    name: str
    content: list[TextPart | ImagePart]
    is_error: bool = False

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


Part = Annotated[TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart, Field(discriminator="type")]
Role = Literal["system", "user", "assistant", "tool"]
ALLOWED_PARTS: dict[str, tuple[type, ...]] = {
    "system": (TextPart,),
    "user": (TextPart, ImagePart),
    "assistant": (TextPart, ThinkingPart, ToolCallPart),
    "tool": (ToolResultPart,),
}


class Message(Frozen):
    role: Role
    parts: tuple[Part, ...]

    def model_post_init(self, _context: Any) -> None:
        allowed = ALLOWED_PARTS[self.role]
        for part in self.parts:
            if not isinstance(part, allowed):
                raise ValueError(f"a {self.role} message cannot hold a {part.type} part")

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @classmethod
    def system(cls, text: str, *, cache_breakpoint: bool = False) -> Message:
        return cls(role="system", parts=(TextPart(text=text, cache_breakpoint=cache_breakpoint),))

    @classmethod
    def user(cls, text: str, *images: ImagePart) -> Message:
        return cls(role="user", parts=(TextPart(text=text), *images))

    @classmethod
    def assistant(cls, *parts: TextPart | ThinkingPart | ToolCallPart) -> Message:
        return cls(role="assistant", parts=tuple(parts))

    @classmethod
    def tool_results(cls, *results: ToolResultPart) -> Message:
        return cls(role="tool", parts=tuple(results))


def tool_result(call: ToolCallPart, text: str, *, is_error: bool = False) -> ToolResultPart:
    return ToolResultPart(tool_call_id=call.id, name=call.name, content=(TextPart(text=text),), is_error=is_error)


# --- tools ----------------------------------------------------------------------------------------------------


class ToolSpec(Frozen):
    """A tool offered to the model; `input_schema` is a self-contained JSON Schema object (no $ref)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
    description: str
    input_schema: dict[str, Any]

    @classmethod
    def from_model(cls, name: str, description: str, model: type[BaseModel]) -> ToolSpec:
        """Generate the schema from the pydantic model that also validates the model's arguments."""
        return cls(name=name, description=description, input_schema=inline_schema(model.model_json_schema()))


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve local $refs and drop pydantic's titles: several providers reject both."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = node["$ref"].rsplit("/", 1)[-1]
                return resolve(copy.deepcopy(definitions[target]))
            return {k: resolve(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


# --- requests -------------------------------------------------------------------------------------------------


class ToolChoice(Frozen):
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None  # with mode "tool"


class LLMRequest(Frozen):
    """One model call, by registry model name."""

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    reasoning: ReasoningLevel | None = None
    parallel_tool_calls: bool = True
    use_cache: bool = True
    purpose: str = "chat"  # for logs and metrics: chat, selector, summary, rerank, ...


# --- usage and cost -------------------------------------------------------------------------------------------


class Usage(Frozen):
    """Token counts as the provider reports them; `input_tokens` includes cached ones."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields})


class Prices(Frozen):
    """US dollars per million tokens."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cache_read: Decimal | None = None  # None = billed as input
    cache_write: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        million = Decimal(1_000_000)
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        total = (
            uncached * self.input
            + usage.cache_read_tokens * (self.input if self.cache_read is None else self.cache_read)
            + usage.cache_write_tokens * (self.input if self.cache_write is None else self.cache_write)
            + usage.output_tokens * self.output
        )
        return (total / million).quantize(Decimal("0.000001"))


# --- stream events --------------------------------------------------------------------------------------------


class TextDelta(Frozen):
    kind: Literal["text_delta"] = "text_delta"
    text: str


class ThinkingDelta(Frozen):
    kind: Literal["thinking_delta"] = "thinking_delta"
    text: str


class ThinkingEnd(Frozen):
    """A thinking block ended; carries what must be replayed with it."""

    kind: Literal["thinking_end"] = "thinking_end"
    signature: str | None = None
    redacted: str | None = None
    item_id: str | None = None


class ToolCallStart(Frozen):
    kind: Literal["tool_call_start"] = "tool_call_start"
    id: str
    name: str


class ToolCallDelta(Frozen):
    kind: Literal["tool_call_delta"] = "tool_call_delta"
    id: str
    arguments_delta: str


class ToolCallEnd(Frozen):
    """The call's arguments are complete and parsed as one JSON object."""

    kind: Literal["tool_call_end"] = "tool_call_end"
    id: str
    name: str
    arguments: dict[str, Any]
    signature: str | None = None


class MalformedToolCallEvent(Frozen):
    """The model tried to call a tool but the call is unusable (bad JSON, or flagged by the provider)."""

    kind: Literal["malformed_tool_call"] = "malformed_tool_call"
    id: str | None = None
    name: str | None = None
    raw: str
    reason: str


class UsageEvent(Frozen):
    kind: Literal["usage"] = "usage"
    usage: Usage


FinishReason = Literal["stop", "tool_calls", "max_tokens", "content_filter", "malformed_tool_call", "other"]


class Finish(Frozen):
    kind: Literal["finish"] = "finish"
    reason: FinishReason
    provider_reason: str | None = None


ErrorKind = Literal["throttled", "token_limit", "provider", "timeout", "malformed", "cancelled"]


class ErrorEvent(Frozen):
    """A failure after output started; the stream ends here and is never reported as a normal finish."""

    kind: Literal["error"] = "error"
    error_kind: ErrorKind
    message: str
    model: str | None = None
    provider: str | None = None
    retry_after: float | None = None


class RouteEvent(Frozen):
    """Emitted by the router before the first provider event: which model and provider answer."""

    kind: Literal["route"] = "route"
    model: str
    provider: str
    fallback_from: str | None = None  # set when a fallback model answers instead of the requested one
    attempts: int = 1


LLMEvent = Annotated[
    TextDelta
    | ThinkingDelta
    | ThinkingEnd
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | MalformedToolCallEvent
    | UsageEvent
    | Finish
    | ErrorEvent
    | RouteEvent,
    Field(discriminator="kind"),
]


class LLMResponse(Frozen):
    """A whole (non-streamed) answer: the assistant message plus accounting."""

    message: Message
    usage: Usage = Usage()
    finish: FinishReason
    provider_finish: str | None = None
    malformed: tuple[MalformedToolCallEvent, ...] = ()
    model: str | None = None
    provider: str | None = None

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.message.parts if isinstance(p, ToolCallPart)]
