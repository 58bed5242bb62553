"""Agent runs over the review socket (docs/review-protocol.md §5.3-§5.7).

One client message names agents of one review: a `query` starts an agent's run, a tool answer continues it.
Each item gets at most one outcome frame (TOOL_USE_REQUEST, AGENT_COMPLETE or AGENT_FAIL); between the client's
round trips the reviewer conversation lives in the run's row, so any worker can take the next step. Frames for
a review that was cancelled or has ended, and answers to a tool use the run is not waiting for, are answered
with silence: the client applies frames by agent id alone, to whatever review it is showing now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from app.db.models import IdeReview, IdeReviewAgent, IdeReviewAgentRun
from app.db.ownership import Owner, parse_id
from app.db.repositories import ide_review_runs as runs_repo
from app.db.repositories import ide_reviews as repo
from app.errors import AdjutantError, InputTokenLimitExceeded, LLMError, LLMTimeout, ModelUnavailable, Throttled
from app.llm.router import LLMRouter
from app.review.conversation import (
    Failed,
    Findings,
    ReviewContext,
    ReviewerConversation,
    ReviewerOutcome,
    ReviewModel,
    ToolRequests,
)
from app.review.ide import agents, diffs, tools
from app.review.ide.limits import IdeReviewLimits
from app.review.ide.running import RunningReviews, StepRef
from app.review.ide.service import REJECTED, rejection_message
from app.review.ide.wire import AgentItem, agent_fail, frame, readable_agent_ids
from app.review.packing import pack
from app.review.rules import RepositoryRules

log = logging.getLogger("adjutant.review")
Emit = Callable[[dict[str, Any]], Awaitable[None]]
OPEN = "IN_PROGRESS"
UNUSABLE_CALL_RETRIES = 3  # model replies whose every tool call had to be refused before the agent gives up
OUTCOMES = frozenset({"TOOL_USE_REQUEST", "AGENT_COMPLETE", "AGENT_FAIL"})
ONE_AT_A_TIME = "Not run: call one tool at a time. Ask for this one again after the first one's result."


class AgentRuns:
    def __init__(self, *, router: LLMRouter, limits: IdeReviewLimits, running: RunningReviews) -> None:
        self.limits = limits
        self.running = running
        self.model = ReviewModel(
            router, limits.model, timeout_s=limits.model_timeout_s, max_output_tokens=limits.max_output_tokens
        )

    async def answer(self, payload: dict[str, Any], owner: Owner, emit: Emit) -> None:
        """Everything between STREAM_START and STREAM_END for one run-agent message."""
        readable = readable_agent_ids(payload)
        if payload.get("action") not in (None, "run-agent"):
            await self._fail_all(readable, "This server does not know that action.", emit)
            return
        review_id = parse_id(payload.get("review_id"))
        review = await repo.owned_review(owner, review_id) if review_id is not None else None
        if review is None:
            await self._fail_all(readable, "The review was not found.", emit)
            return
        items = payload.get("agents")
        if not isinstance(items, list):
            return
        await asyncio.gather(*(self._guarded_item(review, raw, owner, emit) for raw in items))

    async def _fail_all(self, agent_ids: list[int], message: str, emit: Emit) -> None:
        for agent_id in agent_ids:
            await emit(agent_fail(agent_id, message))

    async def _guarded_item(self, review: IdeReview, raw: Any, owner: Owner, emit: Emit) -> None:
        """An item whose handling fails unexpectedly still ends its agent, unless it already has an outcome."""
        outcome_sent = False

        async def emit_item(message: dict[str, Any]) -> None:
            nonlocal outcome_sent
            outcome_sent = outcome_sent or message["type"] in OUTCOMES
            await emit(message)

        try:
            await self._item(review, raw, owner, emit_item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("an item of review %s failed", review.id, exc_info=exc)
            readable = readable_agent_ids({"agents": [raw]})
            if outcome_sent or not readable:
                return
            agent_id = parse_id(readable[0])
            run = await runs_repo.run_of(review.id, agent_id) if agent_id is not None else None
            if run is None or await runs_repo.abort_run(run.id, "FAILED", "internal error"):
                await emit(agent_fail(readable[0], "The review agent failed unexpectedly."))

    async def _item(self, review: IdeReview, raw: Any, owner: Owner, emit: Emit) -> None:
        readable = readable_agent_ids({"agents": [raw]})
        try:
            item = AgentItem.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            await self._fail_all(readable, f"The request item is not valid ({where}: {first['msg']}).", emit)
            return
        if item.review_id != review.id:
            await emit(agent_fail(item.agent_id, "The item names another review than its message."))
            return
        await review.refresh_from_db(fields=["status", "diff_tokens"])
        if review.status in REJECTED:
            await emit(agent_fail(item.agent_id, rejection_message(review, self.limits)))
            return
        if review.status != OPEN:
            log.info("item for agent %s of review %s (%s) answered silently", item.agent_id, review.id, review.status)
            return
        if item.type == "query":
            await self._start(review, item, owner, emit)
        else:
            await self._continue(review, item, owner, emit)

    async def _start(self, review: IdeReview, item: AgentItem, owner: Owner, emit: Emit) -> None:
        agent_id = parse_id(item.agent_id)
        agent = await repo.live_agent(owner, agent_id) if agent_id is not None else None
        if agent is None:
            await emit(agent_fail(item.agent_id, "This agent does not exist any more; refresh the agent list."))
            return
        run = await runs_repo.start_run(review, agent.id)
        if run is None:
            log.info("agent %s already runs in review %s; the repeated query is ignored", agent.id, review.id)
            return
        await emit(frame("AGENT_START", agent.id))
        try:
            conversation = await self._new_conversation(review, agent)
        except Exception as exc:  # noqa: BLE001 - the run exists now: it must end in a terminal frame
            await self._conclude(run, None, Failed(reason=failure_text(exc, run)), emit)
            return
        if conversation is None:  # nothing in the diff an agent could review (all generated or lock files)
            await self._conclude(run, None, Findings(findings=[], rejected=[]), emit)
            return
        await self._advance(review, run, conversation, emit)

    async def _continue(self, review: IdeReview, item: AgentItem, owner: Owner, emit: Emit) -> None:
        agent_id = parse_id(item.agent_id)
        run = await runs_repo.run_of(review.id, agent_id) if agent_id is not None else None
        if run is None:
            await emit(agent_fail(item.agent_id, "This agent is not part of the review."))
            return
        answer = item.tool_use_response
        if answer is None:
            await emit(agent_fail(item.agent_id, "The tool answer carries no tool_use_response."))
            return
        claimed = await runs_repo.claim_continuation(run.id, answer.tool_use_id)
        if claimed is None:
            log.info("stale tool answer %s for run %s answered silently", answer.tool_use_id, run.id)
            return
        agent = await IdeReviewAgent.get(id=claimed.agent_id)  # a run may finish after its agent was deleted
        conversation = ReviewerConversation.from_state(claimed.conversation or {}, agents.reviewer_of(agent))
        failed = item.type == "tool_use_failed"
        asked = next((c.name for c in conversation.awaiting if c.id == answer.tool_use_id), answer.tool_name)
        rendered = tools.render(asked, answer.response, failed=failed, budget_tokens=self.limits.tool_result_tokens)
        await runs_repo.record_tool_answer(
            claimed.id, answer.tool_use_id, failed=failed, response=answer.response, rendered=rendered
        )
        conversation.add_tool_result(answer.tool_use_id, rendered, is_error=failed)
        await self._advance(review, claimed, conversation, emit)

    async def _new_conversation(self, review: IdeReview, agent: IdeReviewAgent) -> ReviewerConversation | None:
        await review.fetch_related("repo")
        parts = pack(
            diffs.parsed(review.file_diffs), RepositoryRules(), budget_tokens=self.limits.token_limit, max_parts=1
        )
        if not parts:
            return None
        reviewer = agents.reviewer_of(agent)
        context = ReviewContext(
            title=f"Local changes on {review.source_branch or 'the working tree'}"
            + (f" against {review.target_branch}" if review.target_branch else ""),
            repo=review.repo.repo_name,
        )
        return ReviewerConversation.start(
            reviewer,
            context,
            parts[0],
            tools=tools.CLIENT_TOOLS if reviewer.tools_enabled else (),
            max_tool_steps=self.limits.max_tool_steps,
            tool_result_tokens=self.limits.tool_result_tokens,
        )

    async def _advance(
        self, review: IdeReview, run: IdeReviewAgentRun, conversation: ReviewerConversation, emit: Emit
    ) -> None:
        """One step of the run, stoppable from any worker; its outcome is announced only if it could be recorded."""
        step = asyncio.create_task(self._step(conversation))
        self.running.track(StepRef(review.id, run.id), step)
        try:
            outcome: ReviewerOutcome = await step
        except asyncio.CancelledError:
            current = asyncio.current_task()
            stopped = self.running.settle(step)
            if stopped and (current is None or not current.cancelling()):
                log.info("step of run %s stopped: its review was cancelled or the run ended", run.id)
                return
            # This connection went away: the outcome could not be delivered any more.
            await asyncio.shield(runs_repo.abort_run(run.id, "ABORTED", "the client's connection closed"))
            raise
        except Exception as exc:  # noqa: BLE001 - every run ends in exactly one terminal frame
            outcome = Failed(reason=failure_text(exc, run))
        finally:
            self.running.settle(step)
        await self._conclude(run, conversation, outcome, emit)

    async def _step(self, conversation: ReviewerConversation) -> ReviewerOutcome:
        """Model steps until an outcome the client can act on: at most one forwardable client tool call."""
        for _ in range(UNUSABLE_CALL_RETRIES):
            outcome = await conversation.step(self.model)
            if not isinstance(outcome, ToolRequests):
                return outcome
            forward = None
            for call in outcome.calls:
                problem = tools.input_problem(call) if forward is None else ONE_AT_A_TIME
                if forward is None and problem is None:
                    forward = call
                else:
                    conversation.add_tool_result(call.id, problem or ONE_AT_A_TIME, is_error=True)
            if forward is not None:
                return ToolRequests(calls=[forward])
        return Failed(reason="The model kept asking for tools it cannot use.")

    async def _conclude(
        self,
        run: IdeReviewAgentRun,
        conversation: ReviewerConversation | None,
        outcome: ReviewerOutcome,
        emit: Emit,
    ) -> None:
        state = conversation.to_state() if conversation is not None else None
        if isinstance(outcome, ToolRequests):
            call = outcome.calls[0]
            await runs_repo.record_tool_request(run, call.id, call.name, call.arguments)
            if await runs_repo.conclude_step(
                run, status="WAITING_TOOL", conversation=state, pending_tool_use_id=call.id
            ):
                await emit(
                    frame(
                        "TOOL_USE_REQUEST",
                        run.agent_id,
                        tool_name=call.name,
                        tool_input=call.arguments,
                        tool_use_id=call.id,
                    )
                )
            return
        if isinstance(outcome, Findings):
            findings = [f.model_dump(mode="json") for f in outcome.findings]
            if await runs_repo.conclude_step(
                run, status="COMPLETED", conversation=state, findings=findings, rejected_findings=len(outcome.rejected)
            ):
                await emit(frame("AGENT_COMPLETE", run.agent_id))
            return
        reason = outcome.reason if isinstance(outcome, Failed) else "The agent ended without a result."
        if await runs_repo.conclude_step(run, status="FAILED", conversation=state, failure=reason):
            await emit(agent_fail(run.agent_id, reason))


def failure_text(exc: BaseException, run: IdeReviewAgentRun) -> str:
    """A short, human reason for AGENT_FAIL: never a stack trace or a provider's raw body."""
    if isinstance(exc, LLMTimeout | TimeoutError):
        return "The model did not answer in time."
    if isinstance(exc, Throttled):
        return "The model provider is rate-limiting requests; try again in a moment."
    if isinstance(exc, InputTokenLimitExceeded):
        return "The change is too large for the review model."
    if isinstance(exc, ModelUnavailable):
        return "No review model is available on this server."
    if isinstance(exc, LLMError):
        return "The model provider failed; try again."
    if isinstance(exc, AdjutantError):
        return exc.detail
    log.error("review run %s failed unexpectedly", run.id, exc_info=exc)
    return "The review agent failed unexpectedly."
