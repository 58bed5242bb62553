"""Queries of the conversation aggregate: sessions, user queries, steps, chat elements, tool uses and the
model transcript. Every function takes the owner's ids or an already ownership-checked row."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import Attachment, ChatElement, Session, Step, ToolUse, TranscriptMessage, UserQuery

RUNNING = "RUNNING"
JSON_STEP_COLUMNS = ("error", "usage")
M = TypeVar("M", Session, UserQuery, Step)


def _db() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


def now() -> datetime:
    return datetime.now(UTC)


# --- sessions ---------------------------------------------------------------------------------------------


async def create_session(*, team_id: int, user_id: int, session_type: str, summary: str) -> Session:
    return await Session.create(team_id=team_id, user_id=user_id, session_type=session_type, summary=summary)


async def touch_session(session_id: int, **fields: Any) -> None:
    await Session.filter(id=session_id).update(updated_at=now(), **fields)


async def set_generated_summary(session_id: int, summary: str) -> None:
    await Session.filter(id=session_id, summary_generated=False).update(summary=summary, summary_generated=True)


async def list_sessions(
    *, user_id: int, team_id: int, session_type: str | None, pinned: bool, limit: int, offset: int
) -> tuple[list[Session], bool]:
    query = Session.filter(user_id=user_id, team_id=team_id, deleted_at__isnull=True, is_auxiliary=False)
    if session_type:
        query = query.filter(session_type=session_type)
    if pinned:
        query = query.filter(pinned_rank__isnull=False).order_by("pinned_rank", "-updated_at", "-id")
    else:
        query = query.filter(pinned_rank__isnull=True).order_by("-updated_at", "-id")
    rows = await query.offset(offset).limit(limit + 1)
    return rows[:limit], len(rows) > limit


async def count_pinned(*, user_id: int, team_id: int, session_type: str) -> int:
    return await Session.filter(
        user_id=user_id, team_id=team_id, session_type=session_type, pinned_rank__isnull=False, deleted_at__isnull=True
    ).count()


async def set_pinned_rank(session_id: int, rank: int | None) -> None:
    await Session.filter(id=session_id).update(pinned_rank=rank)


async def set_pinned_ranks(ranks: dict[int, int]) -> None:
    """All or nothing, with bound parameters only (docs/protocol.md §11 #4)."""
    async with in_transaction():
        for session_id, rank in ranks.items():
            await Session.filter(id=session_id).update(pinned_rank=rank)


async def soft_delete_session(session_id: int) -> None:
    await Session.filter(id=session_id).update(deleted_at=now(), pinned_rank=None)


async def auxiliary_session(*, team_id: int, user_id: int) -> Session:
    """A hidden session for calls that need a session id but belong to no conversation (rerank)."""
    session = await Session.filter(
        team_id=team_id, user_id=user_id, is_auxiliary=True, session_type="AUXILIARY"
    ).first()
    return session or await Session.create(
        team_id=team_id, user_id=user_id, session_type="AUXILIARY", summary="", is_auxiliary=True
    )


# --- queries and steps --------------------------------------------------------------------------------------


async def create_query(**fields: Any) -> UserQuery:
    return await UserQuery.create(**fields)


async def latest_query(session_id: int) -> UserQuery | None:
    return await UserQuery.filter(session_id=session_id).order_by("-id").first()


async def get_query(query_id: int) -> UserQuery:
    return await UserQuery.get(id=query_id)


async def latest_step(user_query_id: int) -> Step | None:
    return await Step.filter(user_query_id=user_query_id).order_by("-id").first()


async def step_by_stream(stream_id: str) -> Step | None:
    return await Step.filter(stream_id=stream_id).select_related("session").first()


async def running_steps(session_id: int) -> list[Step]:
    return await Step.filter(session_id=session_id, status=RUNNING)


async def running_steps_started_before(moment: datetime) -> list[Step]:
    return await Step.filter(status=RUNNING, started_at__lt=moment).order_by("id")


async def ended_steps(stream_ids: list[str]) -> dict[str, str]:
    """stream id -> status of those of `stream_ids` that are no longer RUNNING."""
    rows = await Step.filter(stream_id__in=stream_ids).exclude(status=RUNNING).values("stream_id", "status")
    return {row["stream_id"]: row["status"] for row in rows}


@dataclass(frozen=True)
class RunningByFingerprint:
    stream_id: str
    session_id: int
    user_id: int  # the session's owner, for the caller's ownership check
    team_id: int


async def running_with_fingerprint(fingerprint: str) -> RunningByFingerprint | None:
    """The newest running step started by an identical request, with its session's owner; every chat request
    asks this, so it is one narrow query rather than two ORM rows."""
    rows = await _db().execute_query_dict(
        "SELECT st.stream_id, st.session_id, s.user_id, s.team_id "
        "FROM steps st JOIN sessions s ON s.id = st.session_id "
        "WHERE st.status = 'RUNNING' AND st.request_fingerprint = $1 ORDER BY st.id DESC LIMIT 1",
        [fingerprint],
    )
    return RunningByFingerprint(**rows[0]) if rows else None


async def continuation_of(step_id: int) -> Step | None:
    return await Step.filter(continues_step_id=step_id).order_by("-id").first()


async def next_ordinal(user_query_id: int) -> int:
    last = await Step.filter(user_query_id=user_query_id).order_by("-ordinal").first()
    return (last.ordinal if last else 0) + 1


async def create_step(*, user_query_id: int, **fields: Any) -> Step:
    """A new step of the query, numbered after its last one."""
    return await Step.create(user_query_id=user_query_id, ordinal=await next_ordinal(user_query_id), **fields)


@dataclass(frozen=True)
class Conversation:
    session: Session
    query: UserQuery
    step: Step


_START_CONVERSATION = """
WITH s AS (
    INSERT INTO sessions (team_id, user_id, session_type, summary, last_model, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id
), q AS (
    INSERT INTO user_queries (team_id, user_id, session_id, text, model, agent, agent_reason, retry_reason,
                              fingerprint, step_count, created_at, updated_at)
    SELECT $1, $2, s.id, $7, $5, $8, $9, $10, $11, $12, $6, $6 FROM s RETURNING id, session_id
), e AS (
    INSERT INTO chat_elements (team_id, session_id, user_query_id, actor, message_type, payload, created_at)
    SELECT $1, q.session_id, q.id, 'USER', 'TEXT', $13::jsonb, $6 FROM q RETURNING id
), t AS (
    INSERT INTO transcript_messages (team_id, session_id, user_query_id, role, message, created_at)
    SELECT $1, q.session_id, q.id, $14, $15::jsonb, $6 FROM q RETURNING id
), st AS (
    INSERT INTO steps (team_id, session_id, user_query_id, stream_id, ordinal, kind, model, status,
                       request_fingerprint, started_at)
    SELECT $1, q.session_id, q.id, $16, 1, 'MODEL', $5, 'RUNNING', $11, $6 FROM q RETURNING id
)
SELECT q.session_id, q.id AS query_id, st.id AS step_id, (SELECT count(*) FROM e) + (SELECT count(*) FROM t) AS written
FROM q, st
"""


async def start_conversation(
    *,
    team_id: int,
    user_id: int,
    session_type: str,
    summary: str,
    model: str,
    text: str,
    agent: str,
    agent_reason: str | None,
    retry_reason: str | None,
    fingerprint: str,
    user_element: dict[str, Any],
    transcript_message: dict[str, Any],
    stream_id: str,
    calls_counted: int = 0,
) -> Conversation:
    """A new session with its first query, the query's USER element and transcript message, and the step
    that answers it, in one statement (one round trip, atomic like a transaction). `calls_counted` model
    calls are recorded on the query up front (the step then need not count its first one)."""
    moment = now()
    rows = await _db().execute_query_dict(
        _START_CONVERSATION,
        [
            team_id,
            user_id,
            session_type,
            summary,
            model,
            moment,
            text,
            agent,
            agent_reason,
            retry_reason,
            fingerprint,
            calls_counted,
            json.dumps(user_element),
            transcript_message["role"],
            json.dumps(transcript_message),
            stream_id,
        ],
    )
    row = rows[0]
    session = _loaded(
        Session,
        id=row["session_id"],
        team_id=team_id,
        user_id=user_id,
        session_type=session_type,
        summary=summary,
        summary_generated=False,
        pinned_rank=None,
        last_model=model,
        is_auxiliary=False,
        created_at=moment,
        updated_at=moment,
        deleted_at=None,
    )
    query = _loaded(
        UserQuery,
        id=row["query_id"],
        team_id=team_id,
        user_id=user_id,
        session_id=session.id,
        text=text,
        model=model,
        agent=agent,
        agent_reason=agent_reason,
        retry_reason=retry_reason,
        fingerprint=fingerprint,
        status=RUNNING,
        step_count=calls_counted,
        feedback=None,
        summary=None,
        created_at=moment,
        updated_at=moment,
    )
    step = _loaded(
        Step,
        id=row["step_id"],
        team_id=team_id,
        session_id=session.id,
        user_query_id=query.id,
        stream_id=stream_id,
        ordinal=1,
        kind="MODEL",
        model=model,
        provider=None,
        status=RUNNING,
        end_event=None,
        error=None,
        usage=None,
        cost_usd=None,
        request_fingerprint=fingerprint,
        continues_step_id=None,
        started_at=moment,
        ended_at=None,
    )
    return Conversation(session, query, step)


def _loaded(row_type: type[M], /, **fields: Any) -> M:
    """A model instance for a row this module just wrote with exactly these values."""
    instance = row_type(**fields)
    instance._saved_in_db = True
    return instance


async def get_step(step_id: int) -> Step:
    return await Step.get(id=step_id)


async def finish_step(
    step_id: int,
    *,
    status: str,
    end_event: str | None,
    error: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    cost: Any = None,
    model: str | None = None,
    provider: str | None = None,
    query_id: int | None = None,
    query_status: str | None = None,
    query_summary: str | None = None,
) -> bool:
    """End a RUNNING step (and set its query's status with it); False if it had ended already: whoever
    ended it first (a cancel, a worker settling it) decided its outcome."""
    fields: dict[str, Any] = {"status": status, "end_event": end_event, "ended_at": now()}
    if error is not None:
        fields["error"] = error
    if usage is not None:
        fields["usage"] = usage
    if cost is not None:
        fields["cost_usd"] = cost
    if model is not None:
        fields["model"] = model
    if provider is not None:
        fields["provider"] = provider
    # One statement, so one round trip: the query's status changes only if this call ended the step.
    values: list[Any] = [step_id]

    def param(value: Any, cast: str = "") -> str:
        values.append(value)
        return f"${len(values)}{cast}"

    sets = ", ".join(
        f"{column} = {param(json.dumps(value), '::jsonb') if column in JSON_STEP_COLUMNS else param(value)}"
        for column, value in fields.items()
    )
    # Column names come from this function, every value is a parameter.
    sql = f"WITH ended AS (UPDATE steps SET {sets} WHERE id = $1 AND status = 'RUNNING' RETURNING id)"  # noqa: S608
    if query_id is not None and query_status is not None:
        summary = f", summary = {param(query_summary)}" if query_summary is not None else ""
        sql += (
            f", query AS (UPDATE user_queries SET status = {param(query_status)}, updated_at = {param(now())}{summary}"  # noqa: S608
            f" WHERE id = {param(query_id)} AND EXISTS (SELECT 1 FROM ended))"
        )
    sql += " SELECT count(*) AS ended FROM ended"
    rows = await _db().execute_query_dict(sql, values)
    return bool(rows[0]["ended"])


async def cancel_running_steps(session_id: int) -> list[Step]:
    """Mark the session's running steps CANCELLED; returns only those this call cancelled (a step that
    finished a moment earlier keeps its outcome)."""
    cancelled = []
    for step in await Step.filter(session_id=session_id, status=RUNNING):
        if await Step.filter(id=step.id, status=RUNNING).update(
            status="CANCELLED", end_event="STREAM_ERROR", ended_at=now(), error={"status": "CANCELLED"}
        ):
            cancelled.append(step)
    return cancelled


async def count_model_call(user_query_id: int) -> int:
    """Record one more model call for the query; returns the new count (the step cap counts these)."""
    rows = await _db().execute_query_dict(
        "UPDATE user_queries SET step_count = step_count + 1, updated_at = $2 WHERE id = $1 RETURNING step_count",
        [user_query_id, now()],
    )
    if not rows:
        raise LookupError(f"user query {user_query_id} vanished")
    return int(rows[0]["step_count"])


async def set_query_status(user_query_id: int, status: str, *, summary: str | None = None) -> None:
    fields: dict[str, Any] = {"status": status, "updated_at": now()}
    if summary is not None:
        fields["summary"] = summary
    await UserQuery.filter(id=user_query_id).update(**fields)


async def set_feedback(user_query_id: int, feedback: str) -> None:
    await UserQuery.filter(id=user_query_id).update(feedback=feedback)


# --- chat elements -----------------------------------------------------------------------------------------


async def add_element(
    *,
    team_id: int,
    session_id: int,
    actor: str,
    message_type: str,
    payload: dict[str, Any],
    user_query_id: int | None = None,
    step_id: int | None = None,
) -> ChatElement:
    return await ChatElement.create(
        team_id=team_id,
        session_id=session_id,
        actor=actor,
        message_type=message_type,
        payload=payload,
        user_query_id=user_query_id,
        step_id=step_id,
    )


async def session_elements(session_id: int) -> list[ChatElement]:
    return await ChatElement.filter(session_id=session_id).order_by("id")


async def step_elements(step_id: int) -> list[ChatElement]:
    return await ChatElement.filter(step_id=step_id).order_by("id")


# --- tool uses ----------------------------------------------------------------------------------------------


async def create_tool_use(**fields: Any) -> ToolUse:
    return await ToolUse.create(**fields)


async def link_tool_use_element(row: ToolUse, chat_element_id: int) -> None:
    """Point a tool use at the chat element that shows it."""
    row.chat_element_id = chat_element_id
    await row.save(update_fields=["chat_element_id"])


async def tool_uses_by_ids(session_id: int, tool_use_ids: Iterable[str]) -> list[ToolUse]:
    return await ToolUse.filter(session_id=session_id, tool_use_id__in=list(tool_use_ids))


async def tool_uses_of_step(step_id: int) -> list[ToolUse]:
    return await ToolUse.filter(step_id=step_id).order_by("position")


async def session_tool_uses(session_id: int) -> dict[int, ToolUse]:
    return {t.id: t for t in await ToolUse.filter(session_id=session_id)}


async def tool_use_id_taken(session_id: int, tool_use_id: str) -> bool:
    return await ToolUse.filter(session_id=session_id, tool_use_id=tool_use_id).exists()


async def answer_tool_use(row_id: int, *, response: Any, status: str) -> bool:
    """First answer wins: only a PENDING tool use takes a response. Returns whether this one applied."""
    updated = await ToolUse.filter(id=row_id, status="PENDING").update(
        tool_response=response, status=status, answered_at=now()
    )
    return bool(updated)


async def abort_pending_tool_uses(session_id: int) -> list[ToolUse]:
    pending = await ToolUse.filter(session_id=session_id, status="PENDING").order_by("id")
    if pending:
        await ToolUse.filter(id__in=[t.id for t in pending], status="PENDING").update(
            status="ABORTED", answered_at=now()
        )
    return pending


# --- transcript ---------------------------------------------------------------------------------------------


async def append_transcript(
    *,
    team_id: int,
    session_id: int,
    role: str,
    message: dict[str, Any],
    user_query_id: int | None = None,
    step_id: int | None = None,
) -> None:
    await TranscriptMessage.create(
        team_id=team_id, session_id=session_id, role=role, message=message, user_query_id=user_query_id, step_id=step_id
    )


async def transcript(session_id: int) -> list[TranscriptMessage]:
    return await TranscriptMessage.filter(session_id=session_id).order_by("id")


async def answered_calls(step_id: int) -> set[int]:
    """The model calls of a step whose tool calls already have their results message."""
    rows = await TranscriptMessage.filter(step_id=step_id, answers_call__isnull=False).values_list(
        "answers_call", flat=True
    )
    return {int(r) for r in rows}


async def append_tool_results(
    *, team_id: int, session_id: int, user_query_id: int, step_id: int, call_index: int, message: dict[str, Any]
) -> bool:
    """The results message of one model call, at most once (a unique index decides between racing
    workers); False if it was there already. Safe inside a caller's transaction (a savepoint)."""
    try:
        async with in_transaction():
            await TranscriptMessage.create(
                team_id=team_id,
                session_id=session_id,
                role="tool",
                message=message,
                user_query_id=user_query_id,
                step_id=step_id,
                answers_call=call_index,
            )
    except IntegrityError:
        return False
    return True


async def session_attachments(session_id: int) -> dict[int, Attachment]:
    """Live attachments referenced by the session's user messages, by id."""
    ids = {
        a["attachment_id"]
        for e in await ChatElement.filter(session_id=session_id, actor="USER")
        for a in e.payload.get("attachments", [])
        if isinstance(a, dict) and "attachment_id" in a
    }
    if not ids:
        return {}
    rows = await Attachment.filter(id__in=list(ids)).exclude(status="DELETED")
    return {row.id: row for row in rows}
