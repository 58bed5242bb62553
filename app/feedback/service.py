"""The feedback workflow as the API and the CLI use it: take feedback sent directly, start runs, list runs,
clusters with their evidence and tickets with their status, approve or reject drafts. Every id is the
caller's team's: another team's ticket or run answers exactly like an unknown one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.db.models import DocTicket, FeedbackCluster, FeedbackRun
from app.db.repositories import feedback as store
from app.errors import FeedbackRunNotFound
from app.feedback import tickets
from app.feedback.job import KIND, RunPayload, ensure_weekly
from app.feedback.messages import IncomingMessage, store_messages
from app.feedback.tickets import TicketDesk
from app.jobs.queue import JobQueue
from app.runtime.settings import FeedbackSettings

LIST_MAX = 100


class FeedbackInput(BaseModel):
    """Feedback from anywhere else: a support ticket, a form, a meeting note."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=8_000)
    author: str | None = Field(default=None, max_length=200, description="A display name or handle.")
    source_url: str | None = Field(default=None, max_length=1000, description="Where it was said.")
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:/#@-]+$",
        description="Your id for it: sending the same id again stores nothing new.",
    )
    posted_at: datetime | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("source_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value


class FeedbackService:
    def __init__(self, settings: FeedbackSettings, desk: TicketDesk) -> None:
        self.settings = settings
        self.desk = desk

    async def submit(self, team_id: int, data: FeedbackInput) -> dict[str, Any]:
        external = data.external_id or f"{data.author or 'anonymous'}:{data.text.strip()[:150]}"
        created = await store_messages(
            team_id,
            None,
            [
                IncomingMessage(
                    source="api",
                    external_id=external[:300],
                    author_id=data.author,
                    author_name=data.author,
                    text=data.text,
                    url=data.source_url,
                    posted_at=data.posted_at,
                )
            ],
        )
        return {"stored": bool(created), "message_id": created[0] if created else None}

    async def start_run(self, queue: JobQueue, team_id: int, trigger: str) -> dict[str, Any]:
        await ensure_weekly(team_id, self.settings.default_cron)
        job = await queue.enqueue(KIND, RunPayload(trigger=trigger).model_dump(), None, team_id)  # type: ignore[arg-type]
        return {"job_id": job.id, "status": job.status, "kind": KIND}

    async def runs(self, team_id: int, limit: int) -> list[dict[str, Any]]:
        return [run_view(r) for r in await store.team_runs(team_id, min(limit, LIST_MAX))]

    async def run(self, team_id: int, run_id: int) -> dict[str, Any]:
        found = await store.team_run(team_id, run_id)
        if found is None:
            raise FeedbackRunNotFound("feedback run not found")
        return run_view(found)

    async def clusters(self, team_id: int, *, significant_only: bool, limit: int) -> list[dict[str, Any]]:
        found = await store.team_clusters(team_id, significant_only=significant_only, limit=min(limit, LIST_MAX))
        evidence = await store.cluster_evidence(team_id, [c.id for c in found])
        return [cluster_view(c, evidence.get(c.id, [])) for c in found]

    async def tickets(self, team_id: int, *, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [ticket_view(t) for t in await store.team_tickets(team_id, status=status, limit=min(limit, LIST_MAX))]

    async def ticket(self, team_id: int, ticket_id: int) -> dict[str, Any]:
        ticket = await tickets.owned_ticket(team_id, ticket_id)
        messages = await store.evidence(team_id, ticket.id)
        quotes = await self.desk.quotes(ticket, messages)
        return ticket_view(ticket) | {
            "evidence": [
                {"text": q.text, "author": q.author, "url": q.url, "source": q.source} for q in quotes[:LIST_MAX]
            ]
        }

    async def approve(self, team_id: int, ticket_id: int, user_id: int | None, tracker: str | None) -> dict[str, Any]:
        return ticket_view(await tickets.approve(self.desk, team_id, ticket_id, user_id, tracker))

    async def reject(self, team_id: int, ticket_id: int) -> dict[str, Any]:
        return ticket_view(await tickets.reject(team_id, ticket_id))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_view(run: FeedbackRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job_id": run.job_id,
        "trigger": run.trigger,
        "status": run.status,
        "read": run.read_counts,
        "messages_read": run.messages_read,
        "candidates": run.candidates,
        "clusters": run.clusters,
        "significant": run.significant,
        "tickets_created": run.tickets_created,
        "tickets_updated": run.tickets_updated,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost_usd": str(run.cost_usd),
        "errors": run.errors,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def cluster_view(cluster: FeedbackCluster, members: list[Any]) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "title": cluster.title,
        "size": cluster.size,
        "people": cluster.people,
        "significant": cluster.significant,
        "first_seen": _iso(cluster.first_seen),
        "last_seen": _iso(cluster.last_seen),
        "ticket_id": cluster.ticket_id,
        "evidence": [
            {
                "message_id": message.id,
                "source": message.source,
                "author": message.author_name or message.author_id,
                "url": message.url,
                "problem": insight.problem,
                "quote": insight.quote,
                "posted_at": _iso(message.posted_at),
            }
            for insight, message in members[:LIST_MAX]
        ],
    }


def ticket_view(ticket: DocTicket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "status": ticket.status,
        "title": ticket.title,
        "summary": ticket.summary,
        "suggestion": ticket.suggestion,
        "pages": ticket.pages,
        "evidence_count": ticket.evidence_count,
        "cluster_id": ticket.cluster_id,  # type: ignore[attr-defined]
        "tracker": ticket.tracker,
        "external_id": ticket.external_id,
        "external_url": ticket.external_url,
        "external_status": ticket.external_status,
        "approved_by": ticket.approved_by_id,  # type: ignore[attr-defined]
        "approved_at": _iso(ticket.approved_at),
        "resolved_at": _iso(ticket.resolved_at),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
    }
