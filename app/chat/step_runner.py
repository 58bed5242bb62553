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
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.agents.base import Agent, AgentInput
from app.chat import transcript
from app.chat.blocks import BlockWriter
from app.chat.running import RunningStep, RunningSteps
from app.chat.step_stream import LiveHub, StepBuffer, StepEmitter
from app.chat.tool_calls import CallOutcome, StepToolCalls
from app.db.connection import is_unavailable
from app.db.models import Session, Step, UserQuery
from app.db.repositories import chat as repo
from app.errors import LLMError, ModelStreamFailed, StoreUnavailable
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
    ToolCallStart,
    ToolChoice,
    Usage,
    UsageEvent,
)
from app.runtime.settings import ChatSettings
from app.tools.client_tools import OfferedTool
from app.tools.server_tools import ServerTool
from app.wire_errors import step_error_fields

log = logging.getLogger("adjutant.chat")


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
    step_cap: int | None = None  # the agent's model-call budget; None = chat.step_cap
    history: tuple[Message, ...] | None = None  # the transcript, when the caller already holds it
    calls_counted: int = 0  # model calls of this step already recorded on the query (at intake)


class StepRunner:
    """Runs steps in the background: one task per step, registered as running for its lifetime, ending
    with exactly one terminal frame whatever happens (see the module docstring)."""

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
        self.hub.expect(stream_id)
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
            flush_window_s=self.settings.stream_flush_ms / 1000,
        )
        self.blocks = BlockWriter(self.emitter, self._persist_block, self._boundary)
        self.tools = StepToolCalls(plan, self.settings, self.emitter, self.blocks, self._persist)
        self.usage = Usage()
        self.model_name = plan.model.name
        self.provider: str | None = None
        self.summary_announced = False

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
        step_cap = plan.step_cap or self.settings.step_cap
        async with asyncio.timeout(self.settings.step_timeout_s):
            preloaded, precounted = plan.history, plan.calls_counted
            while True:
                if precounted:  # the intake recorded this call with the query, in the same round trip
                    calls, precounted = precounted, 0
                else:
                    calls = await repo.count_model_call(plan.query.id)
                capped = calls > step_cap
                if capped and not capped_noted:
                    capped_noted = True
                    await self._system_info(f"Stopped after {step_cap} model steps for this request.")
                history = list(preloaded) if preloaded is not None else await transcript.load(plan.session.id)
                preloaded = None
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
                self.tools.call_index += 1
                outcome = await self._model_call(request, offer_tools=not capped)
                await self._record_assistant(outcome)
                if outcome.client_calls:
                    if outcome.server_calls:
                        await self.tools.run_server(outcome.server_calls, record_results=False)
                    return await self._end_tool_turn()
                if outcome.server_calls:
                    await self.tools.run_server(outcome.server_calls, record_results=True)
                    continue
                if outcome.malformed and not capped:
                    if malformed_attempts < self.settings.malformed_retries and calls < step_cap:
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
                await self.tools.take(event, deltas, outcome, offer_tools=offer_tools)
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
                raise ModelStreamFailed(event)
        await self.blocks.finish()
        await self._flush_text(outcome)
        self.usage = self.usage + outcome.usage
        return outcome

    async def _flush_text(self, outcome: CallOutcome) -> None:
        if outcome.text:
            outcome.parts.append(TextPart(text="".join(outcome.text)))
            outcome.text = []

    # --- the transcript ---------------------------------------------------------------------------------

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
        elif not isinstance(exc, (LLMError, TimeoutError, StoreUnavailable)):
            log.error("step %s failed", self.plan.step.stream_id, exc_info=exc)
        status, message, extra = step_error_fields(
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
