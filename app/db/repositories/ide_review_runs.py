"""Queries of IDE review agent runs and their client tool calls (docs/review-protocol.md §5.6, §5.7). A run's
step outcome and its claim of a tool answer are single conditional statements, so a cancel, a post-process
and a duplicate delivery racing with them each see one consistent state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import IdeReview, IdeReviewAgentRun, IdeReviewToolCall
from app.db.repositories.ide_reviews import OPEN, now


def _db() -> Any:
    return Tortoise.get_connection("default")


# --- agent runs --------------------------------------------------------------------------------------------------


async def start_run(review: IdeReview, agent_id: int) -> IdeReviewAgentRun | None:
    """A new RUNNING run; None when this agent already has one in this review (a repeated query)."""
    try:
        return await IdeReviewAgentRun.create(team_id=review.team_id, review_id=review.id, agent_id=agent_id)
    except IntegrityError:
        return None


async def run_of(review_id: int, agent_id: int) -> IdeReviewAgentRun | None:
    return await IdeReviewAgentRun.filter(review_id=review_id, agent_id=agent_id).first()


async def claim_continuation(run_id: int, tool_use_id: str) -> IdeReviewAgentRun | None:
    """WAITING_TOOL -> RUNNING, only for the pending tool use of a run whose review is open: of two deliveries
    of one answer, or an answer racing a cancel, at most one proceeds."""
    rows = await _db().execute_query_dict(
        "UPDATE ide_review_agent_runs AS run SET status = 'RUNNING', pending_tool_use_id = NULL, updated_at = now() "
        "FROM ide_reviews AS review WHERE run.id = $1 AND run.status = 'WAITING_TOOL' "
        "AND run.pending_tool_use_id = $2 AND review.id = run.review_id AND review.status = 'IN_PROGRESS' "
        "RETURNING run.id",
        [run_id, tool_use_id],
    )
    if not rows:
        return None
    return await IdeReviewAgentRun.get(id=run_id)


async def conclude_step(
    run: IdeReviewAgentRun,
    *,
    status: Literal["WAITING_TOOL", "COMPLETED", "FAILED"],
    conversation: dict[str, Any] | None,
    pending_tool_use_id: str | None = None,
    findings: list[dict[str, Any]] | None = None,
    rejected_findings: int = 0,
    failure: str | None = None,
) -> bool:
    """Record a step's outcome if the run is still RUNNING and its review still open; False otherwise (the
    outcome must then not be announced). The review row is share-locked, so a cancel committing meanwhile
    waits for this write, and a write after a cancel sees it."""
    async with in_transaction() as connection:
        rows = await connection.execute_query_dict(
            "SELECT status FROM ide_reviews WHERE id = $1 FOR SHARE", [run.review_id]
        )
        if not rows or rows[0]["status"] != OPEN:
            return False
        count, _ = await connection.execute_query(
            "UPDATE ide_review_agent_runs SET status = $2::varchar, conversation = $3::jsonb, "
            "pending_tool_use_id = $4, findings = $5::jsonb, rejected_findings = $6, failure = $7, steps = steps + 1, "
            "updated_at = now(), finished_at = CASE WHEN $2::varchar = 'WAITING_TOOL' THEN NULL ELSE now() END "
            "WHERE id = $1 AND status = 'RUNNING'",
            [
                run.id,
                status,
                json.dumps(conversation) if conversation is not None else None,
                pending_tool_use_id,
                json.dumps(findings or []),
                rejected_findings,
                failure,
            ],
        )
    return bool(count)


async def abort_run(run_id: int, status: Literal["ABORTED", "FAILED"], reason: str) -> bool:
    count, _ = await _db().execute_query(
        "UPDATE ide_review_agent_runs SET status = $2, failure = $3, pending_tool_use_id = NULL, updated_at = now(), "
        "finished_at = now() WHERE id = $1 AND status IN ('RUNNING', 'WAITING_TOOL')",
        [run_id, status, reason],
    )
    return bool(count)


async def stop_unfinished_runs(review_id: int, reason: str) -> list[int]:
    """Post-process counts runs still going as failed; their steps must stop and stay silent."""
    rows = await _db().execute_query_dict(
        "UPDATE ide_review_agent_runs SET status = 'FAILED', failure = $2, pending_tool_use_id = NULL, "
        "updated_at = now(), finished_at = now() WHERE review_id = $1 AND status IN ('RUNNING', 'WAITING_TOOL') "
        "RETURNING id",
        [review_id, reason],
    )
    return [int(r["id"]) for r in rows]


async def completed_runs(review_id: int) -> list[IdeReviewAgentRun]:
    return await IdeReviewAgentRun.filter(review_id=review_id, status="COMPLETED").order_by("id")


async def unfinished_runs_among(run_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(run_ids))
    if not ids:
        return set()
    rows = await _db().execute_query_dict(
        "SELECT id FROM ide_review_agent_runs WHERE id = ANY($1::bigint[]) AND status IN ('RUNNING', 'WAITING_TOOL')",
        [ids],
    )
    return {int(r["id"]) for r in rows}


# --- client tool calls -------------------------------------------------------------------------------------------


async def record_tool_request(run: IdeReviewAgentRun, tool_use_id: str, tool_name: str, tool_input: Any) -> None:
    """Durable before the request is announced; a call id the model reuses within the run starts afresh."""
    await _db().execute_query(
        "INSERT INTO ide_review_tool_calls (team_id, run_id, tool_use_id, tool_name, tool_input) "
        "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (run_id, tool_use_id) DO UPDATE SET "
        "tool_name = EXCLUDED.tool_name, tool_input = EXCLUDED.tool_input, status = 'PENDING', response = NULL, "
        "rendered = NULL, answered_at = NULL",
        [run.team_id, run.id, tool_use_id, tool_name, json.dumps(tool_input)],
    )


async def record_tool_answer(
    run_id: int, tool_use_id: str, *, failed: bool, response: Any, rendered: str
) -> IdeReviewToolCall | None:
    call = await IdeReviewToolCall.filter(run_id=run_id, tool_use_id=tool_use_id).first()
    if call is None:
        return None
    call.status = "FAILED" if failed else "COMPLETED"
    call.response = response
    call.rendered = rendered
    call.answered_at = now()
    await call.save(update_fields=["status", "response", "rendered", "answered_at"])
    return call
