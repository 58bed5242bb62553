"""Inline-edit jobs (docs/protocol.md §4.4): accept a request, run one model turn in the background on this
worker, and report the job's state to whoever polls it.

A request without `tool_use_response` starts a conversation (in the named, owned session, or a new hidden
one). A request with it continues the conversation of the job that asked for that tool, from whatever
worker: the conversation is rebuilt from the jobs' stored messages. Re-sending the same follow-up finds the
job it already started. Every job settles within `inline_edit.job_deadline_s`: the turn is cancelled at its
deadline, and a job whose worker died is reported FAILED once its deadline has passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.agents.inline_edit import agent
from app.chat.inline_edit_turn import InlineEditFailed, InlineEditTurn, Turn, TurnLimits, tool_result, usable_tool_id
from app.chat.inline_edit_wire import InlineEditAccepted, InlineEditRequest, InlineEditResult, JobStatus
from app.chat.solver import provisional_summary
from app.db.models import InlineEditJob, Session
from app.db.ownership import Owner, get_owned, parse_id
from app.db.repositories import chat as chat_repo
from app.db.repositories import inline_edit as repo
from app.errors import InvalidRequest, JobNotFound, SessionNotFound
from app.llm import errors as llm_errors
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.llm.types import Message
from app.runtime.settings import ChatSettings, InlineEditSettings
from app.runtime.stack import redact_url
from app.tools.inline_edit_tools import inline_edit_tools

log = logging.getLogger("adjutant.inline_edit")
DEADLINE_MARGIN_S = 1.0  # the turn stops this much before the deadline, so it can record why
FAILURE_CHARS = 1000
EXPIRED = "The job did not finish in time (its server may have stopped); send the request again."
STOPPED = "The server stopped while this job was running; send the request again."


class InlineEdits:
    def __init__(
        self,
        *,
        settings: InlineEditSettings,
        chat: ChatSettings,
        registry: ModelRegistry,
        router: LLMRouter,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.settings = settings
        self.chat = chat
        self.registry = registry
        self.router = router
        self.redact = redact
        self.running: dict[int, asyncio.Task[None]] = {}

    # --- the routes ---------------------------------------------------------------------------------------

    async def submit(
        self, owner: Owner, request: InlineEditRequest, *, header_session_id: str | None
    ) -> InlineEditAccepted:
        model, _ = self.registry.resolve(request.llm_model)  # ModelUnavailable when nothing is usable: 503
        session_id = parse_id(header_session_id)  # docs/protocol.md §0: an invalid id counts as absent
        if request.tool_use_response is not None:
            if session_id is None:
                raise InvalidRequest("a tool_use_response must come with the X-Session-ID of the job that asked")
            session = await get_owned(Session, session_id, owner, not_found=SessionNotFound)
            job, started = await self._follow_up(owner, session, request, model.name)
        else:
            session = await get_owned(Session, session_id, owner, not_found=SessionNotFound) if session_id else None
            job, started = await self._start(owner, session, request, model.name), True
        if started:
            self._spawn(job, request)
        return InlineEditAccepted(job_id=job.id, session_id=job.session_id)

    async def status(self, owner: Owner, raw_job_id: str) -> JobStatus:
        job = await get_owned(InlineEditJob, raw_job_id, owner, not_found=JobNotFound)
        if job.status == repo.PENDING and job.deadline_at <= chat_repo.now():
            if await repo.fail_if_expired(job.id, EXPIRED):
                log.warning("inline-edit job %s passed its deadline while PENDING", job.id)
            job = await repo.get(job.id)
        result = InlineEditResult.model_validate(job.response) if job.status == "COMPLETED" else None
        return JobStatus(status=job.status, response=result, error=job.failure if job.status == "FAILED" else None)

    async def stop(self) -> None:
        """Shutdown: running turns are cancelled and their jobs recorded FAILED (clients re-send)."""
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- creating jobs ------------------------------------------------------------------------------------

    def _deadline(self) -> datetime:
        return chat_repo.now() + timedelta(seconds=self.settings.job_deadline_s)

    async def _start(
        self, owner: Owner, session: Session | None, request: InlineEditRequest, model: str
    ) -> InlineEditJob:
        async with in_transaction():
            if session is None:
                session = await repo.create_hidden_session(
                    team_id=owner.team_id, user_id=owner.user_id, summary=provisional_summary(request.query)
                )
            return await repo.create_job(
                team_id=owner.team_id,
                user_id=owner.user_id,
                session_id=session.id,
                model=model,
                query=request.query,
                deadline_at=self._deadline(),
            )

    async def _follow_up(
        self, owner: Owner, session: Session, request: InlineEditRequest, model: str
    ) -> tuple[InlineEditJob, bool]:
        """(the job answering the tool request, whether it is new); a duplicate finds the first one."""
        answer = request.tool_use_response
        assert answer is not None
        asked = await repo.awaiting_answer(session.id, answer.tool_use_id)
        if asked is None or asked.tool_name != answer.tool_name:
            raise InvalidRequest(f"no job of this session asked for {answer.tool_name} {answer.tool_use_id}")
        existing = await repo.continuation_of(asked.id)
        if existing is not None and existing.status != "FAILED":
            return existing, False
        if existing is not None:
            await repo.detach(existing.id)  # a failed follow-up may be retried
        try:
            job = await repo.create_job(
                team_id=owner.team_id,
                user_id=owner.user_id,
                session_id=session.id,
                root_job_id=asked.root_job_id or asked.id,
                continues_job_id=asked.id,
                model=model,
                query=asked.query,
                step_count=asked.step_count,
                deadline_at=self._deadline(),
            )
        except IntegrityError:  # the same follow-up arrived twice at once, maybe on two workers
            winner = await repo.continuation_of(asked.id)
            if winner is None:
                raise
            return winner, False
        return job, True

    # --- running a job ------------------------------------------------------------------------------------

    def _spawn(self, job: InlineEditJob, request: InlineEditRequest) -> None:
        task = asyncio.create_task(self._run(job, request), name=f"inline-edit-{job.id}")
        self.running[job.id] = task
        task.add_done_callback(lambda _: self.running.pop(job.id, None))

    async def _run(self, job: InlineEditJob, request: InlineEditRequest) -> None:
        started = time.monotonic()
        budget = (job.deadline_at - chat_repo.now()).total_seconds() - DEADLINE_MARGIN_S
        try:
            async with asyncio.timeout(max(budget, 0.1)):
                turn = await self._turn(job, request)
        except TimeoutError:
            await self._fail(job, f"The model did not finish within {self.settings.job_deadline_s:g} s.")
        except asyncio.CancelledError:
            await self._fail(job, STOPPED)
            raise
        except InlineEditFailed as exc:
            await self._fail(job, str(exc))
        except llm_errors.LLMError as exc:
            await self._fail(job, failure_reason(exc))
        except Exception:
            log.exception("inline-edit job %s failed", job.id)
            await self._fail(job, "Internal error while running the inline edit.")
        else:
            awaiting = turn.awaiting
            settled = await repo.complete(
                job.id,
                response=turn.result.wire(),
                messages=[m.model_dump(mode="json") for m in turn.messages],
                step_count=turn.steps,
                tool_use_id=awaiting.id if awaiting else None,
                tool_name=awaiting.name if awaiting else None,
            )
            log.info(
                "inline-edit job settled",
                extra={
                    "job_id": job.id,
                    "status": "COMPLETED" if settled else "EXPIRED",
                    "steps": turn.steps,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )

    async def _fail(self, job: InlineEditJob, reason: str) -> None:
        reason = redact_url(self.redact(reason))[:FAILURE_CHARS]
        await repo.fail(job.id, reason)
        log.info("inline-edit job failed", extra={"job_id": job.id, "reason": reason})

    async def _turn(self, job: InlineEditJob, request: InlineEditRequest) -> Turn:
        tools = inline_edit_tools(is_lsp_ready=request.is_lsp_ready)
        context = edit_context(request)
        history: list[Message] = []
        if job.continues_job_id is None:
            added = [
                Message.user(
                    agent.user_message(
                        context,
                        selection_max_chars=self.settings.selection_max_chars,
                        chunks_budget_tokens=self.settings.chunks_budget_tokens,
                    )
                )
            ]
        else:
            asked = await repo.get(job.continues_job_id)
            for earlier in await repo.conversation(asked):
                history += [Message.model_validate(m) for m in earlier.messages]
            answer = request.tool_use_response
            assert answer is not None and asked.tool_use_id is not None
            added = [
                tool_result(
                    asked.tool_use_id,
                    answer.tool_name,
                    answer.response,
                    budget_tokens=self.chat.tool_result_budget_tokens,
                )
            ]
        system = Message.system(
            agent.system_prompt(
                context, tool_names=[t.spec.name for t in tools], rules_max_chars=self.chat.rules_max_chars
            ),
            cache_breakpoint=True,
        )
        turn = InlineEditTurn(
            self.router,
            model=job.model,
            tools=tools,
            limits=TurnLimits(
                step_cap=self.settings.step_cap,
                malformed_retries=self.chat.malformed_retries,
                max_output_tokens=self.chat.max_output_tokens,
            ),
            file_path=context.file_path,
            usable_id=lambda provider_id: self._usable_id(job.session_id, provider_id),
        )
        return await turn.run(system, history, added, job.step_count)

    async def _usable_id(self, session_id: int, provider_id: str) -> str:
        """The provider's id when it fits the wire rules and is new in the session, else one of ours."""
        candidate = usable_tool_id(provider_id)
        if candidate and not await repo.tool_use_id_taken(session_id, candidate):
            return candidate
        return f"toolu_{uuid.uuid4().hex[:24]}"


def edit_context(request: InlineEditRequest) -> agent.EditContext:
    selection = request.code_selection
    lines = selection.line_range
    return agent.EditContext(
        query=request.query,
        file_path=selection.file_path,
        start_line=lines.start_line if lines else None,
        end_line=lines.end_line if lines else None,
        selected_text=selection.selected_text,
        repo_path=request.repo_path,
        relevant_chunks=request.relevant_chunks,
        rules=request.deputy_dev_rules,
    )


def failure_reason(exc: llm_errors.LLMError) -> str:
    """What the user is told when the model call failed."""
    if isinstance(exc, llm_errors.Throttled):
        wait = f" Try again in {round(exc.retry_after)} s." if exc.retry_after else " Try again shortly."
        return "The model provider is rate limiting requests." + wait
    if isinstance(exc, llm_errors.InputTokenLimitExceeded):
        return f"The edit is too large for this model ({exc.message}); select less code or pick a larger model."
    if isinstance(exc, llm_errors.ModelUnavailable):
        return f"No usable model: {exc.message}"
    return f"The model provider failed: {exc.message}"
