"""One turn of an inline-edit conversation: call the model with the inline-edit tools and turn its answer
into the job's result (docs/protocol.md §4.4).

The result is exactly one of: `code_snippets` (the model's replace_in_file calls, or SEARCH/REPLACE blocks
it wrote as text for the selected file), or one `tool_use_request` for the client to run. A call to a tool
that was not offered, or with arguments that do not fit its schema, is fed back to the model within the
turn (`chat.malformed_retries` times, each a counted model call). Past the step cap there is no model call:
the turn asks the client to end with a failed `task_completion`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from app.chat.inline_edit_wire import CodeSnippet, InlineEditResult, ToolUseRequest, ToolUseRequestContent
from app.chat.wire import TOOL_USE_ID
from app.llm.providers.base import collect
from app.llm.router import LLMRouter
from app.llm.types import (
    LLMEvent,
    LLMRequest,
    LLMResponse,
    Message,
    RouteEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from app.tools.client_tools import OfferedTool, validate_arguments
from app.tools.inline_edit_tools import DONE_TOOL, EDIT_TOOL
from app.tools.results import cap, format_result

TOOL_ID = re.compile(TOOL_USE_ID)
BLOCK = re.compile(r"^-{3,} SEARCH\n.*?^={3,}\n.*?^\+{3,} REPLACE$", re.S | re.M)
MESSAGE_CHARS = 4000
ERROR_WRAPPERS = ("result", "file_path_search", "batch_chunks_search", "relevant_code_snippets")


class InlineEditFailed(Exception):
    """The turn could not produce a result; the message is safe to show the user."""


@dataclass
class Turn:
    result: InlineEditResult
    messages: list[Message]  # what this turn added to the conversation
    steps: int  # model calls in the conversation so far
    awaiting: ToolCallPart | None = None  # a tool request of the model's that a follow-up may answer


@dataclass
class _Decision:
    result: InlineEditResult | None
    assistant: Message | None
    awaiting: ToolCallPart | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class TurnLimits:
    step_cap: int
    malformed_retries: int
    max_output_tokens: int


class InlineEditTurn:
    def __init__(
        self,
        router: LLMRouter,
        *,
        model: str,
        tools: list[OfferedTool],
        limits: TurnLimits,
        file_path: str | None,
        usable_id: Callable[[str], Awaitable[str]],
    ) -> None:
        self.router = router
        self.model = model
        self.tools = tools
        self.offered = {t.spec.name: t for t in tools}
        self.limits = limits
        self.file_path = file_path
        self.usable_id = usable_id

    async def run(self, system: Message, history: list[Message], added: list[Message], steps: int) -> Turn:
        attempts = 0
        while True:
            if steps >= self.limits.step_cap:
                return Turn(
                    _finish("failed", f"Stopped after {self.limits.step_cap} model steps for this edit."), added, steps
                )
            steps += 1
            response = await self._call(
                LLMRequest(
                    model=self.model,
                    messages=(system, *history, *added),
                    tools=tuple(t.spec for t in self.tools),
                    max_output_tokens=self.limits.max_output_tokens,
                    parallel_tool_calls=False,
                    purpose="inline_edit",
                )
            )
            decision = await self._decide(response)
            if decision.assistant is not None:
                added.append(decision.assistant)
            if decision.result is not None:
                return Turn(decision.result, added, steps, decision.awaiting)
            if attempts >= self.limits.malformed_retries:
                raise InlineEditFailed("The model could not produce a usable tool call for this edit.")
            attempts += 1
            added.append(Message.user(_malformed_notice(decision.problems)))

    async def _call(self, request: LLMRequest) -> LLMResponse:
        """One whole answer; thinking is stamped with the provider that made it, so it can be replayed to it."""
        answering: list[str] = []

        async def events() -> AsyncIterator[LLMEvent]:
            # Closed however the call ends (a deadline cancels it): that closes the provider's stream too.
            async with aclosing(self.router.stream(request)) as stream:
                async for event in stream:
                    if isinstance(event, RouteEvent):
                        answering.append(event.provider)
                    yield event

        response = await collect(events())
        if not answering:
            return response
        parts = tuple(
            p.model_copy(update={"provider": answering[-1]}) if isinstance(p, ThinkingPart) else p
            for p in response.message.parts
        )
        return response.model_copy(update={"message": Message.assistant(*parts)})

    async def _decide(self, response: LLMResponse) -> _Decision:
        said = [p for p in response.message.parts if isinstance(p, TextPart | ThinkingPart)]
        usable: list[ToolCallPart] = []
        problems = [f"{m.name or 'a tool call'}: {m.reason}" for m in response.malformed]
        for call in response.tool_calls:
            tool = self.offered.get(call.name)
            problem = (
                f"the tool {call.name!r} is not offered here"
                if tool is None
                else validate_arguments(tool, call.arguments)
            )
            if problem:
                problems.append(f"{call.name}: {problem}")
            else:
                usable.append(call.model_copy(update={"id": await self.usable_id(call.id)}))
        edits = [c for c in usable if c.name == EDIT_TOOL]
        if edits:
            snippets = [CodeSnippet(file_path=str(c.arguments["path"]), code=str(c.arguments["diff"])) for c in edits]
            return _Decision(InlineEditResult(code_snippets=snippets), Message.assistant(*said, *edits))
        if usable:
            call = usable[0]  # one request per job: the client runs one tool and answers with one result
            request = ToolUseRequest(
                content=ToolUseRequestContent(tool_name=call.name, tool_use_id=call.id, tool_input=call.arguments)
            )
            return _Decision(InlineEditResult(tool_use_request=request), Message.assistant(*said, call), call)
        assistant = Message.assistant(*said) if said else None
        if problems:
            return _Decision(None, assistant, problems=problems)
        return _Decision(self._from_text(response.text), assistant)

    def _from_text(self, text: str) -> InlineEditResult:
        """An answer without tool calls: SEARCH/REPLACE blocks for the selected file, else the end of the edit."""
        blocks = BLOCK.findall(text)
        if blocks and self.file_path:
            return InlineEditResult(code_snippets=[CodeSnippet(file_path=self.file_path, code="\n".join(blocks))])
        message = text.strip()[:MESSAGE_CHARS] or "The model made no change."
        return _finish("completed", message)


def _finish(status: str, message: str) -> InlineEditResult:
    """A `task_completion` request of our own (no model call behind it): it ends the client's loop."""
    request = ToolUseRequestContent(
        tool_name=DONE_TOOL,
        tool_use_id=f"toolu_{uuid.uuid4().hex[:24]}",
        tool_input={"status": status, "message": message},
    )
    return InlineEditResult(tool_use_request=ToolUseRequest(content=request))


def _malformed_notice(problems: list[str]) -> str:
    lines = "\n".join(f"- {p[:500]}" for p in problems[:5])
    return (
        "Your last tool call could not be used:\n"
        + lines
        + "\nCall one of the offered tools with arguments that are one JSON object matching its schema."
    )


def tool_result(call_id: str, tool_name: str, response: dict[str, Any], *, budget_tokens: int) -> Message:
    """The client's answer to a tool request, as the model sees it (bounded, errors marked)."""
    error = _error_message(response)
    if error is not None:
        text, is_error = f"ERROR: {error}", True
    elif len(response) == 1 and isinstance(next(iter(response.values())), str):
        # e.g. {"iterative_file_reader_result": "..."} or {"FileEditResult": "..."}
        text, is_error = next(iter(response.values())), False
    else:
        text, is_error = format_result(tool_name, response, "COMPLETED"), False
    part = ToolResultPart(
        tool_call_id=call_id, name=tool_name, content=(TextPart(text=cap(text, budget_tokens)),), is_error=is_error
    )
    return Message.tool_results(part)


def _error_message(response: dict[str, Any]) -> str | None:
    if "error_message" in response:
        return str(response["error_message"])
    for key in ERROR_WRAPPERS:
        inner = response.get(key)
        if isinstance(inner, dict) and "error_message" in inner:
            return str(inner["error_message"])
    return None


def usable_tool_id(provider_id: str) -> str | None:
    """A provider's id when it fits the wire rules, else None."""
    return provider_id if TOOL_ID.match(provider_id or "") else None
