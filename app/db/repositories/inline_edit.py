"""Queries of inline-edit jobs. Callers pass ids they have already ownership-checked."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from app.db.models import InlineEditJob, Session
from app.db.repositories.chat import now

PENDING = "PENDING"
SESSION_TYPE = "INLINE_EDIT"


async def create_hidden_session(*, team_id: int, user_id: int, summary: str) -> Session:
    """The session of an inline edit sent without one; hidden like the auxiliary session (it is no chat)."""
    return await Session.create(
        team_id=team_id, user_id=user_id, session_type=SESSION_TYPE, summary=summary, is_auxiliary=True
    )


async def create_job(**fields: Any) -> InlineEditJob:
    return await InlineEditJob.create(**fields)


async def awaiting_answer(session_id: int, tool_use_id: str) -> InlineEditJob | None:
    """The completed job of this session whose tool request has this id."""
    return (
        await InlineEditJob.filter(session_id=session_id, tool_use_id=tool_use_id, status="COMPLETED")
        .order_by("-id")
        .first()
    )


async def tool_use_id_taken(session_id: int, tool_use_id: str) -> bool:
    return await InlineEditJob.filter(session_id=session_id, tool_use_id=tool_use_id).exists()


async def continuation_of(job_id: int) -> InlineEditJob | None:
    return await InlineEditJob.filter(continues_job_id=job_id).first()


async def detach(job_id: int) -> None:
    """A failed follow-up stops holding its predecessor's one continuation slot, so it can be retried."""
    await InlineEditJob.filter(id=job_id, status="FAILED").update(continues_job_id=None)


async def conversation(job: InlineEditJob) -> list[InlineEditJob]:
    """The jobs from the conversation's root up to `job`, oldest first."""
    root = job.root_job_id or job.id
    rows = {row.id: row for row in await InlineEditJob.filter(Q(id=root) | Q(root_job_id=root), id__lte=job.id)}
    chain: list[InlineEditJob] = []
    current: InlineEditJob | None = rows.get(job.id, job)
    while current is not None:
        chain.append(current)
        current = rows.get(current.continues_job_id) if current.continues_job_id else None
    return chain[::-1]


async def complete(
    job_id: int,
    *,
    response: dict[str, Any],
    messages: list[dict[str, Any]],
    step_count: int,
    tool_use_id: str | None,
    tool_name: str | None,
) -> bool:
    """Only a PENDING job settles: one that passed its deadline has already been reported FAILED."""
    updated = await InlineEditJob.filter(id=job_id, status=PENDING).update(
        status="COMPLETED",
        response=response,
        messages=messages,
        step_count=step_count,
        tool_use_id=tool_use_id,
        tool_name=tool_name,
        finished_at=now(),
    )
    return bool(updated)


async def fail(job_id: int, failure: str, *, step_count: int | None = None) -> bool:
    fields: dict[str, Any] = {"status": "FAILED", "failure": failure, "finished_at": now()}
    if step_count is not None:
        fields["step_count"] = step_count
    return bool(await InlineEditJob.filter(id=job_id, status=PENDING).update(**fields))


async def fail_if_expired(job_id: int, failure: str) -> bool:
    """A PENDING job past its deadline is FAILED (its worker may have died); True if this call did it."""
    updated = await InlineEditJob.filter(id=job_id, status=PENDING, deadline_at__lt=now()).update(
        status="FAILED", failure=failure, finished_at=now()
    )
    return bool(updated)


async def get(job_id: int) -> InlineEditJob:
    return await InlineEditJob.get(id=job_id)
