"""Feedback messages, insights, clusters, documentation tickets, their evidence and runs. Every function is scoped
to a team: another team's rows are not found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import (
    ChatElement,
    DocTicket,
    DocTicketEvidence,
    FeedbackCluster,
    FeedbackClusterMember,
    FeedbackCursor,
    FeedbackInsight,
    FeedbackMessage,
    FeedbackRun,
    User,
    UserQuery,
)

MESSAGE_COLUMNS = (
    "source",
    "external_id",
    "connection_id",
    "channel",
    "thread_id",
    "author_id",
    "author_name",
    "text",
    "context",
    "url",
    "posted_at",
)
INSERT_MESSAGE = (
    "INSERT INTO feedback_messages (team_id, run_id, source, external_id, connection_id, channel, thread_id, "
    "author_id, author_name, text, context, url, posted_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (team_id, source, external_id) DO NOTHING RETURNING id"
)
LIVE_TICKETS = ("draft", "open", "reopened", "resolved", "rejected")


# --- runs ----------------------------------------------------------------------------------------------------


async def start_run(team_id: int, *, trigger: str, job_id: int | None) -> tuple[FeedbackRun, bool]:
    """A new run; for a job that already started one, that one (and False)."""
    if job_id is not None:
        found = await FeedbackRun.get_or_none(job_id=job_id)
        if found is not None:
            return found, False
    try:
        return await FeedbackRun.create(team_id=team_id, trigger=trigger, job_id=job_id), True
    except IntegrityError:
        found = await FeedbackRun.get_or_none(job_id=job_id) if job_id is not None else None
        if found is None:
            raise
        return found, False


async def save_run(run: FeedbackRun) -> None:
    await run.save()


async def team_runs(team_id: int, limit: int) -> list[FeedbackRun]:
    return await FeedbackRun.filter(team_id=team_id).order_by("-id").limit(limit)


async def team_run(team_id: int, run_id: int) -> FeedbackRun | None:
    return await FeedbackRun.get_or_none(team_id=team_id, id=run_id)


# --- cursors and messages ------------------------------------------------------------------------------------


async def cursor(team_id: int, source: str, channel: str) -> str | None:
    row = await FeedbackCursor.get_or_none(team_id=team_id, source=source, channel=channel)
    return row.position if row else None


async def set_cursor(team_id: int, source: str, channel: str, position: str) -> None:
    await Tortoise.get_connection("default").execute_query(
        "INSERT INTO feedback_cursors (team_id, source, channel, position) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (team_id, source, channel) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
        [team_id, source, channel, position],
    )


async def add_messages(team_id: int, run_id: int | None, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Store each message once; the ids of those that were new (a message seen before is skipped)."""
    if not rows:
        return []
    connection = Tortoise.get_connection("default")
    created: list[int] = []
    for row in rows:
        found = await connection.execute_query_dict(
            INSERT_MESSAGE, [team_id, run_id, *(row.get(c) for c in MESSAGE_COLUMNS)]
        )
        if found:
            created.append(int(found[0]["id"]))
    return created


async def pending_messages(team_id: int, limit: int) -> list[FeedbackMessage]:
    return await FeedbackMessage.filter(team_id=team_id, analysed_at__isnull=True).order_by("id").limit(limit)


async def mark_analysed(team_id: int, ids: Iterable[int], at: datetime) -> None:
    wanted = list(ids)
    if wanted:
        await FeedbackMessage.filter(team_id=team_id, id__in=wanted).update(analysed_at=at)


async def messages(team_id: int, ids: Iterable[int]) -> dict[int, FeedbackMessage]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {m.id: m for m in await FeedbackMessage.filter(team_id=team_id, id__in=wanted)}


# --- insights and clusters -----------------------------------------------------------------------------------


async def add_insights(team_id: int, rows: Sequence[dict[str, Any]]) -> list[FeedbackInsight]:
    return [await FeedbackInsight.create(team_id=team_id, **row) for row in rows]


async def insights_since(team_id: int, since: datetime) -> list[FeedbackInsight]:
    return await FeedbackInsight.filter(team_id=team_id, created_at__gte=since).order_by("id")


async def memberships(team_id: int, insight_ids: Iterable[int]) -> dict[int, int]:
    """insight id -> the cluster it is in now."""
    wanted = list(insight_ids)
    if not wanted:
        return {}
    rows = await FeedbackClusterMember.filter(team_id=team_id, insight_id__in=wanted).values("insight_id", "cluster_id")
    return {r["insight_id"]: r["cluster_id"] for r in rows}


async def team_cluster(team_id: int, cluster_id: int) -> FeedbackCluster | None:
    return await FeedbackCluster.get_or_none(team_id=team_id, id=cluster_id)


async def save_cluster(
    team_id: int, cluster_id: int | None, members: Sequence[tuple[int, int]], **fields: Any
) -> FeedbackCluster:
    """Create or update a cluster and make `members` ((insight id, message id) pairs) exactly its members; an
    insight leaves whatever cluster it was in before."""
    async with in_transaction():
        cluster = await FeedbackCluster.get_or_none(team_id=team_id, id=cluster_id) if cluster_id else None
        if cluster is None:
            cluster = await FeedbackCluster.create(team_id=team_id, **fields)
        else:
            await FeedbackCluster.filter(id=cluster.id).update(**fields)
            await cluster.refresh_from_db()
        await FeedbackClusterMember.filter(team_id=team_id, cluster_id=cluster.id).delete()
        insight_ids = [i for i, _ in members]
        await FeedbackClusterMember.filter(team_id=team_id, insight_id__in=insight_ids).delete()
        await FeedbackClusterMember.bulk_create(
            [
                FeedbackClusterMember(team_id=team_id, cluster_id=cluster.id, insight_id=i, message_id=m)
                for i, m in members
            ]
        )
    return cluster


async def drop_clusters_except(team_id: int, keep: Iterable[int]) -> None:
    """Clusters not found again (their candidates aged out or regrouped) go, unless a ticket came of them."""
    await FeedbackCluster.filter(team_id=team_id, ticket_id__isnull=True).exclude(id__in=list(keep) or [0]).delete()


async def set_cluster_ticket(team_id: int, cluster_id: int, ticket_id: int) -> None:
    await FeedbackCluster.filter(team_id=team_id, id=cluster_id).update(ticket_id=ticket_id)


async def team_clusters(team_id: int, *, significant_only: bool, limit: int) -> list[FeedbackCluster]:
    query = FeedbackCluster.filter(team_id=team_id)
    if significant_only:
        query = query.filter(significant=True)
    return await query.order_by("-size", "-id").limit(limit)


async def cluster_evidence(
    team_id: int, cluster_ids: Iterable[int]
) -> dict[int, list[tuple[FeedbackInsight, FeedbackMessage]]]:
    """cluster id -> its members (insight and message), oldest message first."""
    wanted = list(cluster_ids)
    if not wanted:
        return {}
    members = await FeedbackClusterMember.filter(team_id=team_id, cluster_id__in=wanted).values(
        "cluster_id", "insight_id", "message_id"
    )
    insights = {i.id: i for i in await FeedbackInsight.filter(id__in=[m["insight_id"] for m in members])}
    found = await messages(team_id, [m["message_id"] for m in members])
    grouped: dict[int, list[tuple[FeedbackInsight, FeedbackMessage]]] = {c: [] for c in wanted}
    for member in members:
        grouped[member["cluster_id"]].append((insights[member["insight_id"]], found[member["message_id"]]))
    for pairs in grouped.values():
        pairs.sort(key=lambda pair: (pair[1].posted_at, pair[1].id))
    return grouped


# --- tickets and evidence ------------------------------------------------------------------------------------


async def live_tickets(team_id: int) -> list[DocTicket]:
    """Tickets a new cluster may be the topic of: all of them (a rejected topic is not drafted again)."""
    return await DocTicket.filter(team_id=team_id, status__in=LIVE_TICKETS).order_by("id")


async def create_ticket(team_id: int, **fields: Any) -> DocTicket:
    return await DocTicket.create(team_id=team_id, **fields)


async def team_ticket(team_id: int, ticket_id: int) -> DocTicket | None:
    return await DocTicket.get_or_none(team_id=team_id, id=ticket_id)


async def locked_ticket(team_id: int, ticket_id: int) -> DocTicket | None:
    return await DocTicket.filter(team_id=team_id, id=ticket_id).select_for_update().first()


async def claim_draft(team_id: int, ticket_id: int, user_id: int | None, at: datetime) -> bool:
    """Mark a draft approved unless someone already did: of two approvals at once, one wins."""
    claimed = await DocTicket.filter(team_id=team_id, id=ticket_id, status="draft", approved_at__isnull=True).update(
        approved_by_id=user_id, approved_at=at
    )
    return claimed == 1


async def release_draft(team_id: int, ticket_id: int) -> None:
    """A claimed draft whose tracker issue could not be created can be approved again."""
    await DocTicket.filter(team_id=team_id, id=ticket_id, status="draft").update(approved_by_id=None, approved_at=None)


async def ticket_by_external(team_id: int, tracker: str, external_id: str) -> DocTicket | None:
    return await DocTicket.get_or_none(team_id=team_id, tracker=tracker, external_id=external_id)


async def update_ticket(ticket: DocTicket, **fields: Any) -> DocTicket:
    await DocTicket.filter(id=ticket.id, team_id=ticket.team_id).update(**fields)
    await ticket.refresh_from_db()
    return ticket


async def team_tickets(team_id: int, *, status: str | None, limit: int) -> list[DocTicket]:
    query = DocTicket.filter(team_id=team_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-id").limit(limit)


async def add_evidence(team_id: int, ticket_id: int, message_ids: Iterable[int], run_id: int | None) -> list[int]:
    """Link messages to a ticket; the ids that were not evidence of it already."""
    connection = Tortoise.get_connection("default")
    added = []
    for message_id in message_ids:
        rows = await connection.execute_query_dict(
            "INSERT INTO doc_ticket_evidence (team_id, ticket_id, message_id, run_id) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (ticket_id, message_id) DO NOTHING RETURNING message_id",
            [team_id, ticket_id, message_id, run_id],
        )
        if rows:
            added.append(int(rows[0]["message_id"]))
    if added:
        count = await DocTicketEvidence.filter(team_id=team_id, ticket_id=ticket_id).count()
        await DocTicket.filter(team_id=team_id, id=ticket_id).update(evidence_count=count)
    return added


async def evidence(team_id: int, ticket_id: int, *, unreported_only: bool = False) -> list[FeedbackMessage]:
    query = DocTicketEvidence.filter(team_id=team_id, ticket_id=ticket_id)
    if unreported_only:
        query = query.filter(reported=False)
    ids = [row["message_id"] for row in await query.values("message_id")]
    found = await messages(team_id, ids)
    return sorted(found.values(), key=lambda m: (m.posted_at, m.id))


async def mark_reported(team_id: int, ticket_id: int, message_ids: Iterable[int]) -> None:
    wanted = list(message_ids)
    if wanted:
        await DocTicketEvidence.filter(team_id=team_id, ticket_id=ticket_id, message_id__in=wanted).update(
            reported=True
        )


# --- chat feedback -------------------------------------------------------------------------------------------


async def downvoted_answers(team_id: int, after_id: int, limit: int) -> list[tuple[UserQuery, str, str]]:
    """Thumbs-down user queries of the team after `after_id`, oldest first: (query, its answer's text, the
    asker's display name)."""
    queries = await UserQuery.filter(team_id=team_id, feedback="DOWNVOTE", id__gt=after_id).order_by("id").limit(limit)
    if not queries:
        return []
    elements = await ChatElement.filter(
        team_id=team_id, user_query_id__in=[q.id for q in queries], actor="ASSISTANT", message_type="TEXT"
    ).order_by("id")
    answers: dict[int, list[str]] = {}
    for element in elements:
        payload = element.payload if isinstance(element.payload, dict) else {}
        content = payload.get("content") if isinstance(payload.get("content"), dict) else {}
        text = payload.get("text") or content.get("text")
        if isinstance(text, str) and text.strip():
            answers.setdefault(element.user_query_id, []).append(text)  # type: ignore[attr-defined]
    names = {u.id: u.name for u in await User.filter(id__in={q.user_id for q in queries})}  # type: ignore[attr-defined]
    return [
        (q, "\n".join(answers.get(q.id, [])), names.get(q.user_id, ""))  # type: ignore[attr-defined]
        for q in queries
    ]
