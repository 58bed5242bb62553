"""Running one step: model calls through the router, protocol events out, the tool loop inside.

A step is one stream id. Inside it, the model may be called several times without the client noticing:
after server tools ran, or to let it correct a malformed tool call. The step ends with STREAM_END (it
asked the client for tools, or gave up on a malformed call), with the final triple TASK_COMPLETION /
QUERY_COMPLETE / STREAM_END_CLOSE_CONNECTION, or with one STREAM_ERROR. Whether it is final is decided by
what the step did, never by the last event seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.agents.base import Agent, AgentInput
from app.chat import transcript
from app.chat.blocks import BlockWriter
from app.chat.running import RunningStep, RunningSteps
from app.chat.step_stream import LiveHub, StepBuffer, StepEmitter
from app.chat.wire import TOOL_USE_ID
from app.db.connection import is_unavailable
from app.db.models import Session, Step, UserQuery
from app.db.repositories import chat as repo
from app.errors import DatabaseUnavailable, StoreUnavailable
from app.llm import errors as llm_errors
from app.llm.providers.base import MAX_RAW_CHARS
from app.llm.registry import ModelRegistry, RegisteredModel
from app.llm.router import LLMRouter
from app.llm.types import (
    ErrorEvent,
    Finish,
    LLMRequest,
    MalformedToolCallEvent,
    Message,
    RouteEvent,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    Usage,
    UsageEvent,
)
from app.runtime.settings import ChatSettings
from app.tools.client_tools import OfferedTool, validate_arguments
from app.tools.server_tools import ServerTool, ToolContext

log = logging.getLogger("adjutant.chat")
TOOL_ID = re.compile(TOOL_USE_ID)
DEFAULT_RETRY_AFTER_S = 60


@dataclass
class StepPlan:
    step: Step
    session: Session
    query: UserQuery
    user_id: int
    team_id: int
    model: RegisteredModel
    reasoning: str | None
    agent: Agent
    agent_input: AgentInput
    tools: list[OfferedTool]
    server_tools: list[ServerTool]
    fingerprint: str | None
    connection_id: str | None
    summary: asyncio.Task[str | None] | None = None


class StepFailed(Exception):
    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(event.message)
        self.event = event


@dataclass
class CallOutcome:
    text: list[str] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)  # assistant message parts in order
    client_calls: list[ToolCallPart] = field(default_factory=list)
    server_calls: list[tuple[ToolCallPart, ServerTool]] = field(default_factory=list)
    malformed: list[MalformedToolCallEvent] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish: Finish | None = None


class StepRunner:
    def __init__(
        self,
        *,
        router: LLMRouter,
        registry: ModelRegistry,
        buffer: StepBuffer,
        hub: LiveHub,
        running: RunningSteps,
        settings: ChatSettings,
    ) -> None:
        self.router = router
        self.registry = registry
        self.buffer = buffer
        self.hub = hub
        self.running = running
        self.settings = settings

    async def start(self, plan: StepPlan) -> None:
        """Launch the step in the background (its liveness is claimed already); it outlives the connection
        that asked for it."""
        stream_id = plan.step.stream_id
        entry = RunningStep(
            stream_id,
            plan.session.id,
            plan.fingerprint,
            plan.connection_id,
            on_cancel=lambda: self.hub.close(stream_id),
        )
        self.running.add(entry)
        entry.task = asyncio.create_task(self._run(plan, entry), name=f"step-{plan.step.stream_id}")

    async def _run(self, plan: StepPlan, entry: RunningStep) -> None:
        run = _StepRun(self, plan, entry)
        try:
            await run.execute()
        except asyncio.CancelledError:
            await run.stopped(entry.stopped)
        except Exception as exc:  # noqa: BLE001 - every failure ends the step with a typed error event
            await run.fail_with(exc)
        finally:
            try:
                await run.emitter.drain()
            finally:
                await self.running.remove(plan.step.stream_id)
                self.hub.forget(plan.step.stream_id)


class _StepRun:
    """The state of one step while it runs."""

    def __init__(self, runner: StepRunner, plan: StepPlan, entry: RunningStep) -> None:
        self.runner = runner
        self.plan = plan
        self.entry = entry
        self.settings = runner.settings
        stream_id = plan.step.stream_id
        self.emitter = StepEmitter(
            stream_id,
            runner.buffer,
            runner.hub,
            cancel_key=runner.running.cancel_key(stream_id),
            on_cancel_requested=lambda: runner.running.stop_local([stream_id], "cancelled"),
        )
        self.blocks = BlockWriter(self.emitter, self._persist_block, self._boundary)
        self.offered = {t.spec.name: t for t in plan.tools}
        self.server = {t.name: t for t in plan.server_tools}
        self.usage = Usage()
        self.model_name = plan.model.name
        self.provider: str | None = None
        self.summary_announced = False
        self.client_tool_count = 0
        self.position = 0
        self.call_index = 0  # model calls made in this step so far

    # --- the step ---------------------------------------------------------------------------------------

    async def execute(self) -> None:
        plan = self.plan
        self.emitter.emit("STREAM_INITIALIZED")
        self.emitter.emit("RESPONSE_METADATA", {"query_id": plan.step.stream_id, "session_id": plan.session.id})
        system = Message.system(
            plan.agent.system_prompt(plan.agent_input, rules_max_chars=self.settings.rules_max_chars),
            cache_breakpoint=True,
        )
        malformed_attempts = 0
        capped_noted = False
        async with asyncio.timeout(self.settings.step_timeout_s):
            while True:
                calls = await repo.count_model_call(plan.query.id)
                capped = calls > self.settings.step_cap
                if capped and not capped_noted:
                    capped_noted = True
                    await self._system_info(f"Stopped after {self.settings.step_cap} model steps for this request.")
                history = await transcript.load(plan.session.id)
                request = LLMRequest(
                    model=self.model_name,
                    messages=(system, *history),
                    tools=()
                    if capped
                    else tuple(t.spec for t in plan.tools) + tuple(t.spec() for t in plan.server_tools),
                    tool_choice=ToolChoice(mode="none" if capped else "auto"),
                    max_output_tokens=self.settings.max_output_tokens,
                    reasoning=plan.reasoning,
                    purpose="chat",
                )
                self.call_index += 1
                outcome = await self._model_call(request, offer_tools=not capped)
                await self._record_assistant(outcome)
                if outcome.client_calls:
                    if outcome.server_calls:
                        await self._run_server_tools(outcome.server_calls, record_results=False)
                    return await self._end_tool_turn()
                if outcome.server_calls:
                    await self._run_server_tools(outcome.server_calls, record_results=True)
                    continue
                if outcome.malformed and not capped:
                    if malformed_attempts < self.settings.malformed_retries and calls < self.settings.step_cap:
                        malformed_attempts += 1
                        await self._malformed_notice(outcome.malformed)
                        continue
                    return await self._end_malformed(outcome.malformed)
                success = not capped and (outcome.finish is None or outcome.finish.reason != "content_filter")
                return await self._end_final(success)

    async def _model_call(self, request: LLMRequest, *, offer_tools: bool) -> CallOutcome:
        outcome = CallOutcome()
        thinking: list[str] = []
        pending: dict[str, tuple[str, list[str]]] = {}
        async for event in self.runner.router.stream(request):
            self.emitter.raise_if_failed()
            if isinstance(event, TextDelta):
                outcome.text.append(event.text)
                await self.blocks.text(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking.append(event.text)
                await self.blocks.thinking(event.text)
            elif isinstance(event, ThinkingEnd):
                await self._flush_text(outcome)
                outcome.parts.append(
                    ThinkingPart(
                        text="".join(thinking),
                        signature=event.signature,
                        redacted=event.redacted,
                        item_id=event.item_id,
                        provider=self.provider,
                    )
                )
                thinking = []
                await self.blocks.thinking_end()
            elif isinstance(event, ToolCallStart):
                pending[event.id] = (event.name, [])
            elif isinstance(event, ToolCallDelta):
                pending.setdefault(event.id, ("", []))[1].append(event.arguments_delta)
            elif isinstance(event, ToolCallEnd):
                _, deltas = pending.pop(event.id, ("", []))
                await self._flush_text(outcome)
                await self._tool_call(event, deltas, outcome, offer_tools=offer_tools)
            elif isinstance(event, MalformedToolCallEvent):
                outcome.malformed.append(event)
            elif isinstance(event, UsageEvent):
                outcome.usage = outcome.usage + event.usage
            elif isinstance(event, Finish):
                outcome.finish = event
            elif isinstance(event, RouteEvent):
                self.model_name, self.provider = event.model, event.provider
                if event.fallback_from:
                    await self._system_info(f"{event.fallback_from} was unavailable; {event.model} answered instead.")
            elif isinstance(event, ErrorEvent):
                raise StepFailed(event)
        await self.blocks.finish()
        await self._flush_text(outcome)
        self.usage = self.usage + outcome.usage
        return outcome

    async def _flush_text(self, outcome: CallOutcome) -> None:
        if outcome.text:
            outcome.parts.append(TextPart(text="".join(outcome.text)))
            outcome.text = []

    # --- tool calls -------------------------------------------------------------------------------------

    async def _tool_call(self, end: ToolCallEnd, deltas: list[str], outcome: CallOutcome, *, offer_tools: bool) -> None:
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
        if self.client_tool_count >= self.settings.max_tool_uses_per_step:
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
        self.client_tool_count += 1
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
            element = await self._persist("ASSISTANT", "TEXT", {"text": str(end.arguments.get("prompt", ""))})
        else:
            element = await self._persist("ASSISTANT", "TOOL_USE", {"tool_use_row": row.id})
        row.chat_element_id = element.id
        await row.save(update_fields=["chat_element_id"])
        # Persisted (PENDING) before the END that announces it; START, DELTA(s), END contiguous.
        self.emitter.emit("TOOL_USE_REQUEST_START", {"tool_name": end.name, "tool_use_id": call_id})
        for delta in _deltas_for(deltas, end.arguments):
            self.emitter.emit("TOOL_USE_REQUEST_DELTA", {"input_params_json_delta": delta})
        self.emitter.emit("TOOL_USE_REQUEST_END")

    async def _usable_id(self, provider_id: str) -> str:
        """Provider ids are kept when they fit the wire rules and are new in the session."""
        if TOOL_ID.match(provider_id or "") and not await repo.tool_use_id_taken(self.plan.session.id, provider_id):
            return provider_id
        return f"toolu_{uuid.uuid4().hex[:24]}"

    async def _run_server_tools(self, calls: list[tuple[ToolCallPart, ServerTool]], *, record_results: bool) -> None:
        plan = self.plan
        context = ToolContext(
            user_id=plan.user_id, team_id=plan.team_id, session_id=plan.session.id, repo_path=plan.agent_input.repo_path
        )
        for part, tool in calls:
            self.position += 1
            try:
                text = await tool.run(tool.model.model_validate(part.arguments), context)
                status, response = "COMPLETED", {"result": text}
            except Exception as exc:
                log.warning("server tool %s failed", tool.name, exc_info=True)
                status, response = "FAILED", {"error_message": f"{exc.__class__.__name__}: {exc}"}
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
            element = await self._persist("ASSISTANT", "TOOL_USE", {"tool_use_row": row.id})
            row.chat_element_id = element.id
            await row.save(update_fields=["chat_element_id"])
        if record_results:
            await transcript.append_tool_results(
                plan.step.id,
                team_id=plan.team_id,
                session_id=plan.session.id,
                user_query_id=plan.query.id,
                budget_tokens=self.settings.tool_result_budget_tokens,
            )

    async def _malformed_notice(self, malformed: list[MalformedToolCallEvent]) -> None:
        """Feed the problem back to the model within the same step; no frame reveals it (docs/protocol.md §6.6)."""
        lines = [f"- {m.name or 'a tool call'}: {m.reason}. Raw: {m.raw[:500]}" for m in malformed]
        notice = (
            "Your last tool call could not be used:\n"
            + "\n".join(lines)
            + "\nCall an offered tool with arguments that are one JSON object matching its schema."
        )
        await transcript.append(
            Message.user(notice),
            team_id=self.plan.team_id,
            session_id=self.plan.session.id,
            user_query_id=self.plan.query.id,
            step_id=self.plan.step.id,
        )

    async def _record_assistant(self, outcome: CallOutcome) -> None:
        if not outcome.parts:
            return
        await transcript.append(
            Message.assistant(*outcome.parts),
            team_id=self.plan.team_id,
            session_id=self.plan.session.id,
            user_query_id=self.plan.query.id,
            step_id=self.plan.step.id,
        )

    # --- endings ----------------------------------------------------------------------------------------
    #
    # The database decides how a step ended (a cancel may race its last events), and only then is its
    # terminal frame emitted: the client sees an ending exactly when the row agrees with it.

    async def _end_tool_turn(self) -> None:
        self._announce_summary()
        await self._conclude("TOOL_TURN", [("STREAM_END", None)])

    async def _end_malformed(self, malformed: list[MalformedToolCallEvent]) -> None:
        last = malformed[-1]
        await self._system_info("The model could not produce a usable tool call.")
        self._announce_summary()
        self.emitter.emit(
            "MALFORMED_TOOL_USE_REQUEST", {"reason": last.reason, "raw_payload": last.raw[:MAX_RAW_CHARS]}
        )
        await self._conclude("MALFORMED", [("STREAM_END", None)])

    async def _end_final(self, success: bool) -> None:
        plan = self.plan
        summary = self.blocks.summary
        self._announce_summary()
        await self._conclude(
            "COMPLETED",
            [
                ("TASK_COMPLETION", {"query_id": plan.query.id, "success": success, "summary": summary}),
                ("QUERY_COMPLETE", None),
                ("STREAM_END_CLOSE_CONNECTION", None),
            ],
            query_status="COMPLETED" if success else "FAILED",
            query_summary=summary,
        )

    async def _conclude(
        self,
        status: str,
        ending: list[tuple[str, dict[str, Any] | None]],
        *,
        query_status: str | None = None,
        query_summary: str | None = None,
    ) -> None:
        await self.emitter.drain()
        self.emitter.raise_if_failed()  # what was shown must be resumable, or the step fails instead
        self.entry.concluding = True
        if not await self._record_end(status, ending[-1][0], query_status=query_status, query_summary=query_summary):
            return await self._lost_the_race()
        for kind, content in ending:
            self.emitter.emit(kind, content)

    async def _record_end(self, status: str, end_event: str, error: dict[str, Any] | None = None, **query: Any) -> bool:
        cost = self.plan.model.prices.cost(self.usage) if self.usage != Usage() else None
        return await repo.finish_step(
            self.plan.step.id,
            status=status,
            end_event=end_event,
            error=error,
            usage=self.usage.model_dump(),
            cost=cost or Decimal(0),
            model=self.model_name,
            provider=self.provider,
            query_id=self.plan.query.id,
            **query,
        )

    async def _lost_the_race(self) -> None:
        """The row ended first: a cancel (carry it out) or another worker settling this step (stay quiet)."""
        ended = await repo.ended_steps([self.plan.step.stream_id])
        await self.stopped("cancelled" if ended.get(self.plan.step.stream_id) == "CANCELLED" else "settled")

    async def failed(self, status: str, message: str, extra: dict[str, Any]) -> None:
        try:
            await self.blocks.fail()  # the partial output is kept in history
        except Exception:  # the database is away: the settler rebuilds it from the buffer
            log.warning("step %s: could not store its partial output", self.plan.step.stream_id, exc_info=True)
        error = {"status": status, "message": message}
        self.entry.concluding = True
        try:
            if not await self._record_end("FAILED", "STREAM_ERROR", error):
                return await self._lost_the_race()
        except Exception:  # the error below still reaches the client; the row is settled later
            log.warning("step %s: could not record its failure", self.plan.step.stream_id, exc_info=True)
        self.emitter.emit("STREAM_ERROR", status=status, message=message, **extra)

    async def fail_with(self, exc: BaseException) -> None:
        if is_unavailable(exc):
            log.warning("step %s failed: the database is unavailable (%s)", self.plan.step.stream_id, exc)
            exc = DatabaseUnavailable("the database is unavailable")
        elif not isinstance(exc, (llm_errors.LLMError, StepFailed, TimeoutError, StoreUnavailable)):
            log.error("step %s failed", self.plan.step.stream_id, exc_info=exc)
        status, message, extra = stream_error(
            exc, self.model_name, self.provider, self.runner.registry, query=self.plan.query.text
        )
        await self.failed(status, message, extra)

    async def stopped(self, reason: str | None) -> None:
        """The task was cancelled: by a user, by another worker settling the step, or by a shutdown."""
        if reason is None:  # the worker is shutting down: the step failed, followers and resumers get an error
            await self.failed("INTERNAL_ERROR", "The server restarted during this step", {})
            return
        stream_id = self.plan.step.stream_id
        if reason == "settled":
            # Another worker gave this step up for lost and wrote its ending; show that ending here too.
            with contextlib.suppress(StoreUnavailable):
                last = await self.runner.buffer.last(stream_id)
                if last is not None:
                    self.runner.hub.publish(stream_id, [last])
            return
        self.runner.hub.close(stream_id)
        # Into the buffer for resumes, never to live connections (docs/protocol.md §9).
        self.emitter.emit("STREAM_ERROR", live=False, status="CANCELLED", message="Stopped by user")
        try:
            await self.blocks.abandon()
            await self._system_info("Stopped by user")
            await repo.set_query_status(self.plan.query.id, "CANCELLED")
        except Exception:  # the database is away: the settler rebuilds the partial output from the buffer
            log.warning("step %s: could not store its cancellation", stream_id, exc_info=True)

    # --- persistence helpers ----------------------------------------------------------------------------

    async def _persist(self, actor: str, message_type: str, payload: dict[str, Any]) -> Any:
        return await repo.add_element(
            team_id=self.plan.team_id,
            session_id=self.plan.session.id,
            actor=actor,
            message_type=message_type,
            payload=payload,
            user_query_id=self.plan.query.id,
            step_id=self.plan.step.id,
        )

    async def _persist_block(self, message_type: str, payload: dict[str, Any]) -> None:
        await self._persist("ASSISTANT", message_type, payload)

    async def _system_info(self, info: str) -> None:
        await self._persist("SYSTEM", "INFO", {"info": info})

    def _boundary(self) -> None:
        self._announce_summary()

    def _announce_summary(self) -> None:
        """SESSION_SUMMARY once, between blocks, if the generated summary is ready by now."""
        task = self.plan.summary
        if self.summary_announced or task is None or not task.done() or task.cancelled():
            return
        self.summary_announced = True
        if task.exception() is None and task.result():
            self.emitter.emit("SESSION_SUMMARY", {"session_id": self.plan.session.id, "summary": task.result()})


def _deltas_for(deltas: list[str], arguments: dict[str, Any]) -> list[str]:
    """The provider's own fragments when they form exactly the arguments, else one fragment."""
    joined = "".join(deltas)
    try:
        if deltas and json.loads(joined) == arguments and joined.strip():
            return [d for d in deltas if d] or [joined]
    except json.JSONDecodeError:
        pass
    return [json.dumps(arguments) if arguments else "{}"]


def stream_error(
    exc: BaseException, model: str, provider: str | None, registry: ModelRegistry, *, query: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """docs/protocol.md §5.7 step error fields for a failure of the model call."""
    if isinstance(exc, StepFailed):
        event = exc.event
        where = {"model": event.model or model, "provider": event.provider or provider or ""}
        if event.error_kind == "throttled":
            return (
                "LLM_THROTTLED",
                "Rate limited",
                where
                | {
                    "retry_after": int(event.retry_after or DEFAULT_RETRY_AFTER_S),
                    "detail": event.message,
                    "region": None,
                },
            )
        return "PROVIDER_ERROR", "The model provider failed", where | {"detail": event.message}
    if isinstance(exc, llm_errors.LLMError):
        where = {"model": exc.model or model, "provider": exc.provider or provider or ""}
        if isinstance(exc, llm_errors.Throttled):
            return (
                "LLM_THROTTLED",
                "Rate limited",
                where
                | {
                    "retry_after": round(exc.retry_after) if exc.retry_after else DEFAULT_RETRY_AFTER_S,
                    "detail": exc.message,
                    "region": None,
                },
            )
        if isinstance(exc, llm_errors.InputTokenLimitExceeded):
            try:
                better = registry.better_models(registry.get(exc.model or model))
            except llm_errors.LLMError:
                better = []
            return (
                "INPUT_TOKEN_LIMIT_EXCEEDED",
                "The input is too long for this model",
                {
                    "model": exc.model or model,
                    "current_tokens": exc.current,
                    "max_tokens": exc.maximum,
                    "detail": exc.message,
                    "query": (query or "")[:200],
                    "better_models": better,
                },
            )
        return "PROVIDER_ERROR", "The model provider failed", where | {"detail": exc.message}
    if isinstance(exc, StoreUnavailable):
        return exc.code, "The answer could not be stored, so it was stopped: " + exc.detail, {}
    if isinstance(exc, TimeoutError):
        return (
            "PROVIDER_ERROR",
            "The step timed out",
            {"model": model, "provider": provider or "", "detail": "step timeout"},
        )
    return "INTERNAL_ERROR", "Internal error", {}
