"""The tool calls of one step: each checked against the tools offered, persisted before the frames that
announce it, and server tools run in call order with their results stored."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.chat import transcript
from app.chat.blocks import BlockWriter
from app.chat.step_stream import StepEmitter
from app.chat.wire import TOOL_USE_ID
from app.db.repositories import chat as repo
from app.errors import AdjutantError
from app.llm.providers.base import MAX_RAW_CHARS
from app.llm.types import Finish, MalformedToolCallEvent, ToolCallEnd, ToolCallPart, Usage
from app.runtime.settings import ChatSettings
from app.tools.client_tools import OfferedTool, validate_arguments
from app.tools.server_tools import ServerTool, ToolContext

if TYPE_CHECKING:
    from app.chat.step_runner import StepPlan

log = logging.getLogger("adjutant.chat")
TOOL_ID = re.compile(TOOL_USE_ID)


@dataclass
class CallOutcome:
    """What one model call produced."""

    text: list[str] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)  # assistant message parts in order
    client_calls: list[ToolCallPart] = field(default_factory=list)
    server_calls: list[tuple[ToolCallPart, ServerTool]] = field(default_factory=list)
    malformed: list[MalformedToolCallEvent] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish: Finish | None = None


class StepToolCalls:
    """Tool-call bookkeeping of one step: positions in the step, the model call each belongs to, the cap."""

    def __init__(
        self,
        plan: StepPlan,
        settings: ChatSettings,
        emitter: StepEmitter,
        blocks: BlockWriter,
        persist: Callable[[str, str, dict[str, Any]], Awaitable[Any]],
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.emitter = emitter
        self.blocks = blocks
        self.persist = persist
        self.offered = {t.spec.name: t for t in plan.tools}
        self.server = {t.name: t for t in plan.server_tools}
        self.client_count = 0
        self.position = 0
        self.call_index = 0  # model calls made in this step so far

    async def take(self, end: ToolCallEnd, deltas: list[str], outcome: CallOutcome, *, offer_tools: bool) -> None:
        """Check one finished call against what was offered; a usable client call is persisted (PENDING)
        and then announced, a server call is kept for `run_server`, anything else becomes malformed."""
        raw = "".join(deltas) or json.dumps(end.arguments)
        server = self.server.get(end.name)
        tool = self.offered.get(end.name)
        if not offer_tools or (server is None and tool is None):
            outcome.malformed.append(
                MalformedToolCallEvent(
                    id=end.id, name=end.name, raw=raw[:MAX_RAW_CHARS], reason=f"the tool {end.name!r} was not offered"
                )
            )
            return
        problem = (
            validate_arguments(OfferedTool(server.spec(), "server", server.model), end.arguments)
            if server
            else validate_arguments(tool, end.arguments)
        )  # type: ignore[arg-type]
        if problem:
            outcome.malformed.append(
                MalformedToolCallEvent(id=end.id, name=end.name, raw=raw[:MAX_RAW_CHARS], reason=problem)
            )
            return
        call_id = await self._usable_id(end.id)
        part = ToolCallPart(id=call_id, name=end.name, arguments=end.arguments, signature=end.signature)
        outcome.parts.append(part)
        if server is not None:
            outcome.server_calls.append((part, server))
            return
        await self.blocks.interrupt()
        plan = self.plan
        self.position += 1
        if self.client_count >= self.settings.max_tool_uses_per_step:
            # Too many calls in one step: keep the call for the transcript, answer it ourselves, show nothing.
            await repo.create_tool_use(
                team_id=plan.team_id,
                session_id=plan.session.id,
                step_id=plan.step.id,
                tool_use_id=call_id,
                tool_name=end.name,
                position=self.position,
                call_index=self.call_index,
                tool_input=end.arguments,
                status="FAILED",
                answered_at=repo.now(),
                tool_response={"error_message": "dropped: too many tool calls in one step; call fewer tools at a time"},
            )
            return
        self.client_count += 1
        outcome.client_calls.append(part)
        row = await repo.create_tool_use(
            team_id=plan.team_id,
            session_id=plan.session.id,
            step_id=plan.step.id,
            tool_use_id=call_id,
            tool_name=end.name,
            position=self.position,
            call_index=self.call_index,
            tool_input=end.arguments,
        )
        if end.name == "ask_user_input":  # rendered as the assistant asking, then the user's answer
            element = await self.persist("ASSISTANT", "TEXT", {"text": str(end.arguments.get("prompt", ""))})
        else:
            element = await self.persist("ASSISTANT", "TOOL_USE", {"tool_use_row": row.id})
        await repo.link_tool_use_element(row, element.id)
        # Persisted (PENDING) before the END that announces it; START, DELTA(s), END contiguous.
        self.emitter.emit("TOOL_USE_REQUEST_START", {"tool_name": end.name, "tool_use_id": call_id})
        for delta in deltas_for(deltas, end.arguments):
            self.emitter.emit("TOOL_USE_REQUEST_DELTA", {"input_params_json_delta": delta})
        self.emitter.emit("TOOL_USE_REQUEST_END")

    async def _usable_id(self, provider_id: str) -> str:
        """Provider ids are kept when they fit the wire rules and are new in the session."""
        if TOOL_ID.match(provider_id or "") and not await repo.tool_use_id_taken(self.plan.session.id, provider_id):
            return provider_id
        return f"toolu_{uuid.uuid4().hex[:24]}"

    async def run_server(self, calls: list[tuple[ToolCallPart, ServerTool]], *, record_results: bool) -> None:
        """Run server tools in call order, persisting each call with its result; `record_results` also
        appends the results to the transcript for the next model call."""
        plan = self.plan
        context = ToolContext(
            user_id=plan.user_id, team_id=plan.team_id, session_id=plan.session.id, repo_path=plan.agent_input.repo_path
        )
        for part, tool in calls:
            self.position += 1
            try:
                text = await tool.run(tool.model.model_validate(part.arguments), context)
                status, response = "COMPLETED", {"result": text}
            except ValidationError as exc:
                status, response = "FAILED", {"error_message": "invalid arguments: " + validation_summary(exc)}
            except AdjutantError as exc:
                status, response = "FAILED", {"error_message": f"{exc.code}: {exc.detail}"}
            except Exception as exc:
                # Unexpected: logged for us; the model (and history) sees no exception text, which could quote
                # anything the tool held.
                log.warning("server tool %s failed", tool.name, exc_info=True)
                status, response = (
                    "FAILED",
                    {"error_message": f"the tool failed unexpectedly ({exc.__class__.__name__})"},
                )
            row = await repo.create_tool_use(
                team_id=plan.team_id,
                session_id=plan.session.id,
                step_id=plan.step.id,
                tool_use_id=part.id,
                tool_name=part.name,
                position=self.position,
                call_index=self.call_index,
                executor="SERVER",
                tool_input=part.arguments,
                tool_response=response,
                status=status,
                answered_at=repo.now(),
            )
            element = await self.persist("ASSISTANT", "TOOL_USE", {"tool_use_row": row.id})
            await repo.link_tool_use_element(row, element.id)
        if record_results:
            await transcript.append_tool_results(
                plan.step.id,
                team_id=plan.team_id,
                session_id=plan.session.id,
                user_query_id=plan.query.id,
                budget_tokens=self.settings.tool_result_budget_tokens,
            )


def deltas_for(deltas: list[str], arguments: dict[str, Any]) -> list[str]:
    """The provider's own fragments when they form exactly the arguments, else one fragment."""
    joined = "".join(deltas)
    try:
        if deltas and json.loads(joined) == arguments and joined.strip():
            return [d for d in deltas if d] or [joined]
    except json.JSONDecodeError:
        pass
    return [json.dumps(arguments) if arguments else "{}"]


def validation_summary(exc: ValidationError) -> str:
    """The model's argument mistakes, without echoing the values it sent."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )[:1000]
