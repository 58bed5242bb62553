"""The query solver: what happens to each chat request (docs/protocol.md §5.2, §6, §8).

`accept` classifies a request, resolves and ownership-checks its session, applies the idempotency rules,
persists what must be durable before anything is announced, and returns what the connection should send:
a request-level error, or which step stream to follow from where. Steps run in the background (see
`StepRunner`) and outlive the connection that asked for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.agents.base import Agent, AgentInput
from app.agents.selector import AGENTS, BY_NAME, Selection, select_agent, selector_prompt
from app.chat import transcript
from app.chat.helper_model import HelperModel
from app.chat.running import RunningSteps
from app.chat.settle import StepSettler
from app.chat.step_runner import StepPlan, StepRunner
from app.chat.step_stream import LiveHub, StepBuffer, StepEmitter, relay
from app.chat.uploads import Uploads
from app.chat.wire import ChatRequest, PayloadAttachment, ResumeRequest, classify, fingerprint
from app.db.models import Session, Step, UserQuery
from app.db.ownership import get_owned, owns_session
from app.db.repositories import chat as repo
from app.errors import (
    AdjutantError,
    InternalError,
    InvalidToolResponse,
    ResumeNotPossible,
    SessionBusy,
    SessionNotFound,
)
from app.llm.errors import LLMError
from app.llm.registry import ModelRegistry, RegisteredModel
from app.llm.router import LLMRouter
from app.llm.types import ImagePart, Message
from app.runtime.settings import AgentsSettings, ChatSettings
from app.tools.client_tools import first_party_tools, mcp_tools
from app.tools.integration_tools import explicitly_asks_to_write
from app.tools.server_tools import ServerToolRegistry
from app.wire_errors import request_error_fields

log = logging.getLogger("adjutant.chat")
SUMMARY_CHARS = 100
DEFAULT_SESSION_TYPE = "VSCODE_EXT_SESSION"
ConnectedKinds = Callable[[int], Awaitable[frozenset[str]]]


async def no_connections(team_id: int) -> frozenset[str]:
    return frozenset()


def agent_named(name: str | None) -> Agent:
    """The agent a stored query names; a query from before an agent was removed gets the default."""
    return BY_NAME.get(name or "", AGENTS[0])


@dataclass
class Caller:
    """Who sent a request, and the session context of the connection it came on."""

    user_id: int
    team_id: int
    connection_id: str | None = None
    bound_session_id: int | None = None
    header_session_id: int | None = None
    header_session_type: str | None = None


@dataclass
class Answer:
    """What to send after STREAM_START: an error, or a step to follow (from after `after`)."""

    error: tuple[str, str] | None = None  # (status, message)
    follow: str | None = None
    after: str | None = None
    session_id: int | None = None  # bind the connection to this session
    ignore: bool = False  # an exact duplicate of a request still running on this connection: send nothing
    extra: dict[str, Any] = field(default_factory=dict)


class QuerySolver:
    """The entry point of every chat request (new query, tool responses, resume, payload attachment):
    `accept` decides and persists, `follow` relays a step to one connection. Steps run in `StepRunner`."""

    def __init__(
        self,
        *,
        settings: ChatSettings,
        registry: ModelRegistry,
        router: LLMRouter,
        buffer: StepBuffer,
        hub: LiveHub,
        running: RunningSteps,
        server_tools: ServerToolRegistry,
        uploads: Uploads,
        agents: AgentsSettings | None = None,
        connected_kinds: ConnectedKinds = no_connections,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.connected_kinds = connected_kinds
        self.uploads = uploads
        self.registry = registry
        self.router = router
        self.buffer = buffer
        self.hub = hub
        self.running = running
        self.server_tools = server_tools
        self.helper = HelperModel(settings=settings, registry=registry, router=router)
        self.runner = StepRunner(
            router=router, registry=registry, buffer=buffer, hub=hub, running=running, settings=settings
        )
        self.settler = StepSettler(buffer=buffer, hub=hub, running=running, interval_s=settings.reconcile_interval_s)
        self.background: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        """Begin settling steps that lost their worker (once now, then periodically)."""
        self.settler.start()

    async def stop(self) -> None:
        await self.settler.stop()

    async def follow(self, stream_id: str, after: str | None, send: Any) -> None:
        """Relay a step to one connection until its terminal frame; if the worker running it is lost
        meanwhile, the step is settled, which gives this follower its end."""
        watchdog = asyncio.create_task(self.settler.watch(stream_id), name=f"watch-{stream_id}")
        try:
            local = self.running.local(stream_id) is not None
            await relay(stream_id, after, send, buffer=self.buffer, hub=self.hub, local=local)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)

    async def accept(self, raw: Any, caller: Caller) -> Answer:
        """Classify and handle one request; a typed failure becomes the answer's request-level error."""
        try:
            kind, request = classify(raw)
            if isinstance(request, PayloadAttachment):  # R4
                raw = await self.uploads.unpack_payload(caller, request.attachment_id)
                kind, request = classify(raw, allow_attachment=False)
            if isinstance(request, ResumeRequest):  # R3
                return await self._resume(request, caller)
            if not isinstance(request, ChatRequest):
                raise InternalError(f"a {kind} request was classified as {type(request).__name__}")
            print_ = fingerprint(raw)
            if caller.connection_id and self.running.on_connection(caller.connection_id, print_):
                return Answer(ignore=True)
            duplicate = await self._running_duplicate(print_, caller)
            if duplicate is not None:
                return Answer(follow=duplicate.stream_id, session_id=duplicate.session_id)
            if kind == "R1":
                return await self._query(raw, request, caller, print_)
            return await self._tool_responses(request, caller, print_)
        except AdjutantError as exc:
            return Answer(error=request_error_fields(exc))

    # --- sessions ---------------------------------------------------------------------------------------

    async def _resolve_session(self, request: ChatRequest, caller: Caller) -> Session | None:
        """docs/protocol.md §6.1: payload, then the connection's session, then the upgrade header; None = new."""
        wanted = request.requested_session_id or caller.bound_session_id or caller.header_session_id
        if wanted is None:
            return None
        return await get_owned(Session, wanted, caller, not_found=SessionNotFound)

    async def _running_duplicate(self, print_: str, caller: Caller) -> repo.RunningByFingerprint | None:
        step = await repo.running_with_fingerprint(print_)
        if step is None or not owns_session(caller, step):
            return None
        return step if await self.running.is_alive(step.stream_id) else None

    # --- R1: a new query (or a retry of a failed one) ------------------------------------------------------

    async def _query(self, raw: dict[str, Any], request: ChatRequest, caller: Caller, print_: str) -> Answer:
        # First, before anything is written: with no usable model the request fails (MODEL_UNAVAILABLE) and
        # leaves no session, query or user message behind.
        model, substituted = self.registry.resolve(request.llm_model)
        session = await self._resolve_session(request, caller)
        latest: UserQuery | None = None
        last_step: Step | None = None
        if session is not None:
            await self.settler.settle_session(session.id)
            if await repo.running_steps(session.id):
                raise SessionBusy("a step of this session is still running")
            latest = await repo.latest_query(session.id)
            last_step = await repo.latest_step(latest.id) if latest else None
        if request.query is None:  # classify() gives R1 only to a frame with a query
            raise InternalError("a new query without query text")
        malformed_retry = (
            raw.get("batch_tool_responses") == [] and last_step is not None and last_step.status == "MALFORMED"
        )
        retry = (
            not malformed_retry
            and last_step is not None
            and last_step.status == "FAILED"
            and latest is not None
            and latest.text == request.query
        )
        images = await self.uploads.images(caller, [a.attachment_id for a in request.attachments])
        # Chosen before any write: the rules decide at once, a model call (if ever) happens outside the transaction.
        connected = await self.connected_kinds(caller.team_id)
        selection = (
            None
            if (malformed_retry or retry)
            else await self._select(self._agent_input(request, request.query), connected)
        )
        if selection is not None:
            model = self._agent_model(selection.agent, model)
        # Claimed before anything is committed: with Redis away the request fails and leaves nothing behind.
        stream_id = new_stream_id()
        await self.running.claim(stream_id)
        if session is None and selection is not None and not substituted:
            # The common case, a new conversation, is written in one round trip.
            try:
                started = await self._new_conversation(request, selection, model, caller, print_, images, stream_id)
            except BaseException:
                await self.running.release(stream_id)
                raise
            summary = self._summarize(started.session.id, request.query)
            await self._start(
                started.step,
                started.session,
                started.query,
                caller,
                model,
                request,
                selection,
                print_,
                summary,
                history=(started.message,),
                calls_counted=1,
            )
            return Answer(follow=started.step.stream_id, session_id=started.session.id)
        try:
            async with in_transaction():
                if session is None:
                    session = await repo.create_session(
                        team_id=caller.team_id,
                        user_id=caller.user_id,
                        session_type=request.session_type or caller.header_session_type or DEFAULT_SESSION_TYPE,
                        summary=provisional_summary(request.query),
                    )
                    new_session = True
                else:
                    new_session = False
                if latest is not None and (malformed_retry or retry):  # both imply a latest query
                    query = latest
                    selection = Selection(agent_named(query.agent), request.query, "rules")
                    await repo.set_query_status(query.id, "RUNNING")
                    if malformed_retry:
                        notice = "System notice: the previous tool call was unusable. " + request.query
                        await transcript.append(
                            Message.user(notice), team_id=caller.team_id, session_id=session.id, user_query_id=query.id
                        )
                        await self._info(session, query, "The model's tool call was malformed; it was asked to retry.")
                    if retry and request.retry_reason and model.name == (session.last_model or model.name):
                        await self._info(session, query, f"Retrying ({request.retry_reason}).")
                else:
                    if selection is None:  # chosen above for every request that is not a retry
                        raise InternalError("a new query without an agent")
                    query = await self._new_query(request, selection, session, model, caller, print_, images)
                if model.name != (session.last_model or model.name) or substituted:
                    await self._model_notice(session, query, request, model, substituted)
                step = await repo.create_step(
                    team_id=caller.team_id,
                    session_id=session.id,
                    user_query_id=query.id,
                    stream_id=stream_id,
                    model=model.name,
                    request_fingerprint=print_,
                )
                await repo.touch_session(session.id, last_model=model.name)
        except BaseException as exc:
            await self.running.release(stream_id)
            if isinstance(exc, IntegrityError):  # another worker started a step of this session a moment ago
                raise SessionBusy("a step of this session is still running") from None
            raise
        summary = self._summarize(session.id, request.query) if new_session else None
        await self._start(step, session, query, caller, model, request, selection, print_, summary)
        return Answer(follow=step.stream_id, session_id=session.id)

    async def _new_conversation(
        self,
        request: ChatRequest,
        selection: Selection,
        model: RegisteredModel,
        caller: Caller,
        print_: str,
        images: list[ImagePart],
        stream_id: str,
    ) -> NewConversation:
        assert request.query is not None
        message = self._user_message(request, selection, model, images)
        written = await repo.start_conversation(
            team_id=caller.team_id,
            user_id=caller.user_id,
            session_type=request.session_type or caller.header_session_type or DEFAULT_SESSION_TYPE,
            summary=provisional_summary(request.query),
            model=model.name,
            text=request.query,
            agent=selection.agent.name,
            agent_reason=agent_reason(selection),
            retry_reason=request.retry_reason,
            fingerprint=print_,
            user_element=user_element(request),
            transcript_message=message.model_dump(mode="json"),
            stream_id=stream_id,
            calls_counted=1,  # the step's first model call, counted here rather than by one more round trip
        )
        return NewConversation(written.session, written.query, written.step, message)

    def _user_message(
        self, request: ChatRequest, selection: Selection, model: RegisteredModel, images: list[ImagePart]
    ) -> Message:
        """What the model is told the user asked: the agent's rendering of the query, with its images."""
        context = self._agent_input(request, selection.query)
        text = selection.agent.user_message(context, focus_budget_tokens=self.settings.focus_budget_tokens)
        if images and not model.spec.multimodal:
            text += f"\n\n[The user attached {len(images)} image(s); this model cannot see images.]"
            images = []
        return Message.user(text, *images)

    async def _new_query(
        self,
        request: ChatRequest,
        selection: Selection,
        session: Session,
        model: RegisteredModel,
        caller: Caller,
        print_: str,
        images: list[ImagePart],
    ) -> UserQuery:
        aborted = await repo.abort_pending_tool_uses(session.id)
        query = await repo.create_query(
            team_id=caller.team_id,
            user_id=caller.user_id,
            session_id=session.id,
            text=request.query,
            model=model.name,
            agent=selection.agent.name,
            agent_reason=agent_reason(selection),
            retry_reason=request.retry_reason,
            fingerprint=print_,
        )
        if aborted:
            await transcript.append_aborted_results(
                aborted, team_id=caller.team_id, session_id=session.id, user_query_id=query.id
            )
        await repo.add_element(
            team_id=caller.team_id,
            session_id=session.id,
            actor="USER",
            message_type="TEXT",
            user_query_id=query.id,
            payload=user_element(request),
        )
        await transcript.append(
            self._user_message(request, selection, model, images),
            team_id=caller.team_id,
            session_id=session.id,
            user_query_id=query.id,
        )
        return query

    async def _model_notice(
        self, session: Session, query: UserQuery, request: ChatRequest, model: RegisteredModel, substituted: bool
    ) -> None:
        if substituted:
            await self._info(session, query, f"Model {request.llm_model} is not available here; using {model.name}.")
        elif session.last_model and session.last_model != model.name:
            reason = f" ({request.retry_reason})" if request.retry_reason else ""
            await self._info(session, query, f"Model changed from {session.last_model} to {model.name}{reason}.")

    async def _info(self, session: Session, query: UserQuery, info: str) -> None:
        await repo.add_element(
            team_id=session.team_id,
            session_id=session.id,
            actor="SYSTEM",
            message_type="INFO",
            payload={"info": info},
            user_query_id=query.id,
        )

    # --- R2: tool responses -----------------------------------------------------------------------------

    async def _tool_responses(self, request: ChatRequest, caller: Caller, print_: str) -> Answer:
        session = await self._resolve_session(request, caller)
        if session is None:
            raise SessionNotFound("tool responses need a session")
        batch = request.batch_tool_responses or []
        rows = {row.tool_use_id: row for row in await repo.tool_uses_by_ids(session.id, [r.tool_use_id for r in batch])}
        unknown = [r.tool_use_id for r in batch if r.tool_use_id not in rows]
        if unknown:
            raise InvalidToolResponse(f"unknown tool_use_id: {', '.join(unknown[:5])}")
        # The continuation will need a model: with none usable, fail before any response is applied, so the
        # same batch can be sent again once one is configured.
        self.registry.default()
        await self.settler.settle_session(session.id)
        touched: set[int] = set()
        async with in_transaction():
            for response in batch:
                row = rows[response.tool_use_id]
                if row.status != "PENDING":
                    continue  # answered already (first answer wins) or aborted: ignored
                if await repo.answer_tool_use(row.id, response=response.response, status=response.normalized_status):
                    touched.add(row.step_id)
                    if row.tool_name == "ask_user_input":
                        answer = response.response.get("user_response") if isinstance(response.response, dict) else None
                        await repo.add_element(
                            team_id=caller.team_id,
                            session_id=session.id,
                            actor="USER",
                            message_type="TEXT",
                            user_query_id=None,
                            payload={
                                "text": str(answer or ""),
                                "focus_items": [strip_focus(f) for f in request.focus_items],
                                "attachments": [],
                            },
                        )
            await repo.touch_session(session.id)
        target_id = max(touched) if touched else max(rows[r.tool_use_id].step_id for r in batch)
        target = await repo.get_step(target_id)
        if any(t.status == "PENDING" for t in await repo.tool_uses_of_step(target.id)):
            return await self._ack(session, target, caller, print_)
        continuation = await repo.continuation_of(target.id)
        if (
            continuation is not None
            and continuation.status == "RUNNING"
            and await self.running.is_alive(continuation.stream_id)
        ):
            return Answer(follow=continuation.stream_id, session_id=session.id)
        if continuation is not None and continuation.status != "FAILED":
            return await self._ack(session, target, caller, print_)
        return await self._continue(session, target, request, caller, print_)

    async def _continue(
        self, session: Session, target: Step, request: ChatRequest, caller: Caller, print_: str
    ) -> Answer:
        query = await repo.get_query(target.user_query_id)
        if request.llm_model:
            model, substituted = self.registry.resolve(request.llm_model)
        else:
            model, substituted = self.registry.resolve(target.model)
        if await repo.running_steps(session.id):
            raise SessionBusy("a step of this session is still running")
        stream_id = new_stream_id()
        await self.running.claim(stream_id)
        try:
            # One transaction: the results go into the transcript exactly when the step that reads them exists.
            async with in_transaction():
                await transcript.append_tool_results(
                    target.id,
                    team_id=caller.team_id,
                    session_id=session.id,
                    user_query_id=query.id,
                    budget_tokens=self.settings.tool_result_budget_tokens,
                )
                step = await repo.create_step(
                    team_id=caller.team_id,
                    session_id=session.id,
                    user_query_id=query.id,
                    stream_id=stream_id,
                    model=model.name,
                    request_fingerprint=print_,
                    continues_step_id=target.id,
                )
        except BaseException as exc:
            await self.running.release(stream_id)
            if not isinstance(exc, IntegrityError):
                raise
            # Another worker continued the same batch a moment ago: follow its step (docs/protocol.md §6.4).
            continuation = await repo.continuation_of(target.id)
            if continuation is not None and continuation.status == "RUNNING":
                return Answer(follow=continuation.stream_id, session_id=session.id)
            raise SessionBusy("a step of this session is still running") from None
        await repo.set_query_status(query.id, "RUNNING")
        if substituted:
            await self._info(session, query, f"Model {request.llm_model} is not available here; using {model.name}.")
        selection = Selection(agent_named(query.agent), query.text, "rules")
        await self._start(step, session, query, caller, model, request, selection, print_, None)
        return Answer(follow=step.stream_id, session_id=session.id)

    async def _ack(self, session: Session, target: Step, caller: Caller, print_: str) -> Answer:
        """Partial or redundant tool responses: a step with no model call (docs/protocol.md §6.3)."""
        step = await repo.create_step(
            team_id=caller.team_id,
            session_id=session.id,
            user_query_id=target.user_query_id,
            stream_id=new_stream_id(),
            kind="ACK",
            status="COMPLETED",
            end_event="STREAM_END",
            request_fingerprint=print_,
        )
        emitter = StepEmitter(step.stream_id, self.buffer, self.hub)
        emitter.emit("STREAM_INITIALIZED")
        emitter.emit("RESPONSE_METADATA", {"query_id": step.stream_id, "session_id": session.id})
        emitter.emit("STREAM_END")
        await emitter.drain()
        emitter.raise_if_failed()
        return Answer(follow=step.stream_id, session_id=session.id)

    # --- R3: resume -------------------------------------------------------------------------------------

    async def _resume(self, request: ResumeRequest, caller: Caller) -> Answer:
        step = await repo.step_by_stream(request.resume_query_id)
        if (
            step is None
            or not owns_session(caller, step.session)
            or not await self.buffer.exists(request.resume_query_id)
        ):
            raise ResumeNotPossible("unknown or expired step")
        if request.resume_offset_id and not await self.buffer.has_id(request.resume_query_id, request.resume_offset_id):
            raise ResumeNotPossible("the offset is not an event of that step")
        # A step whose worker died never writes its end, nor one that ended while Redis was away: give it
        # one (from its row), or this follower would wait for nothing.
        await self.settler.settle(step)
        return Answer(follow=request.resume_query_id, after=request.resume_offset_id)

    # --- starting a step --------------------------------------------------------------------------------

    async def _start(
        self,
        step: Step,
        session: Session,
        query: UserQuery,
        caller: Caller,
        model: RegisteredModel,
        request: ChatRequest,
        selection: Selection,
        print_: str,
        summary: asyncio.Task[str | None] | None,
        *,
        history: tuple[Message, ...] | None = None,
        calls_counted: int = 0,
    ) -> None:
        """Launch the step; `history` is the session's transcript when the caller has it in hand (a new
        conversation), `calls_counted` its model calls already recorded on the query."""
        try:
            agent = selection.agent
            flags = request.tool_flags(semantic_search_enabled=self.settings.semantic_search_enabled)
            if not agent.may_write:
                flags = dataclasses.replace(flags, write_mode=False)
            tools = first_party_tools(flags) if agent.client_tools else []
            server_tools = self.server_tools.offered(
                flags,
                names=agent.server_tools,
                connected=await self.connected_kinds(caller.team_id),
                allow_writes=explicitly_asks_to_write(query.text),
            )
            taken = {t.spec.name for t in tools} | {t.name for t in server_tools}
            if agent.client_tools:
                tools += mcp_tools(request.client_tools, taken)
            context = self._agent_input(
                request, query.text, tool_names=tuple(sorted(taken | {t.spec.name for t in tools}))
            )
            plan = StepPlan(
                step=step,
                session=session,
                query=query,
                user_id=caller.user_id,
                team_id=caller.team_id,
                model=model,
                reasoning=request.reasoning,
                agent=selection.agent,
                agent_input=context,
                tools=tools,
                server_tools=server_tools,
                fingerprint=print_,
                connection_id=caller.connection_id,
                summary=summary,
                step_cap=self._step_cap(agent),
                history=history,
                calls_counted=calls_counted,
            )
            await self.runner.start(plan)
        except Exception:
            # The step row is committed: fail it at once, so the same request sent again is a retry (§6.4)
            # rather than SESSION_BUSY against a step that will never run.
            await self.running.remove(step.stream_id)
            await repo.finish_step(
                step.id,
                status="FAILED",
                end_event="STREAM_ERROR",
                error={"status": "INTERNAL_ERROR", "message": "the step could not be started"},
            )
            raise

    def _agent_input(self, request: ChatRequest, query: str, tool_names: tuple[str, ...] = ()) -> AgentInput:
        return AgentInput(
            query=query,
            os_name=request.os_name,
            shell=request.shell,
            vscode_env=request.vscode_env,
            repositories=request.repositories,
            repo_path=request.repo_path,
            focus_items=request.focus_items,
            active_file=request.active_file_reference,
            rules=request.deputy_dev_rules,
            write_mode=request.write_mode,
            tool_names=tool_names,
        )

    def _agent_model(self, agent: Agent, requested: RegisteredModel) -> RegisteredModel:
        """`agents.<name>.model` when it names a usable model; otherwise the request's model."""
        preference = getattr(self.agents, agent.name, None) if self.agents else None
        if preference is None or not preference.model or preference.model == requested.name:
            return requested
        model, substituted = self.registry.resolve(preference.model)
        return requested if substituted else model

    def _step_cap(self, agent: Agent) -> int:
        """`agents.<name>.step_cap` when the operator set one; else the agent's own budget within chat.step_cap."""
        preference = getattr(self.agents, agent.name, None) if self.agents else None
        if preference is not None and preference.step_cap:
            return preference.step_cap
        return min(agent.step_budget or self.settings.step_cap, self.settings.step_cap)

    async def _select(self, context: AgentInput, connected: frozenset[str]) -> Selection:
        helper = self.helper.helper_model()

        async def classify_with_model(query: str, agents: tuple[Any, ...]) -> str:
            prompt = selector_prompt(query, agents)
            return await self.helper.ask_helper(prompt, purpose="selector", max_output_tokens=10)

        return await select_agent(
            context,
            classify_with_model if helper else None,
            timeout_s=self.settings.selector_timeout_s,
            connected=connected,
        )

    def _summarize(self, session_id: int, text: str) -> asyncio.Task[str | None] | None:
        if self.helper.helper_model() is None:
            return None

        async def run() -> str | None:
            prompt = "Give this coding request a title of at most 8 words. Answer with the title only.\n\n"
            try:
                answer = await self.helper.ask_helper(prompt + text[:4000], purpose="summary", max_output_tokens=30)
            except LLMError as exc:
                log.info("session summary failed: %s", exc)
                return None
            title = answer.strip().strip('"').splitlines()[0][:SUMMARY_CHARS] if answer.strip() else ""
            if title:
                await repo.set_generated_summary(session_id, title)
            return title or None

        task = asyncio.create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


@dataclass(frozen=True)
class NewConversation:
    session: Session
    query: UserQuery
    step: Step
    message: Message  # the user message as the model sees it: the whole transcript so far


def agent_reason(selection: Selection) -> str:
    return f"{selection.by}: {selection.reason}"[:300] if selection.reason else selection.by


def user_element(request: ChatRequest) -> dict[str, Any]:
    """The USER chat element of a query, as history shows it."""
    return {
        "text": request.query,
        "focus_items": [strip_focus(f) for f in request.focus_items],
        "attachments": [{"attachment_id": a.attachment_id} for a in request.attachments],
    }


def new_stream_id() -> str:
    return uuid.uuid4().hex


def provisional_summary(query: str) -> str:
    """The first 100 characters of the query, with … when cut (docs/protocol.md §6.1)."""
    flat = " ".join(query.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[:SUMMARY_CHARS] + "…"


def strip_focus(item: dict[str, Any]) -> dict[str, Any]:
    """Focus items in history carry no chunk bodies or directory structures (docs/protocol.md §10.2)."""
    return {k: v for k, v in item.items() if k not in ("chunks", "structure")}
