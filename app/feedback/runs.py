"""One feedback run of a team: read the sources, store what is new, find candidates, cluster them, and turn each
significant cluster into evidence on an existing ticket or a new draft; the run's record says what it read,
how many clusters it found, which tickets it created or updated, and what its model calls cost.

A run is idempotent over the same data: messages are stored once, clusters keep their ids while they keep
most of their members, and a message is evidence of a ticket once, so running the same week again creates
nothing and comments nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.models import DocTicket, FeedbackInsight, FeedbackMessage, FeedbackRun
from app.db.repositories import feedback as store
from app.errors import AdjutantError
from app.feedback import docs_lookup, insights, sources
from app.feedback.clustering import NOISE, Significance, central_index, centroid, dbscan
from app.feedback.matching import Topic, best_match
from app.feedback.model import FeedbackModel
from app.feedback.suggestion import suggest
from app.feedback.tickets import TicketDesk, people_of, quotes_of
from app.integrations.connections import Connections
from app.runtime.settings import FeedbackSettings
from app.search.embeddings import Embedder

log = logging.getLogger("adjutant.feedback")
PENDING_MAX = 5_000
CLUSTER_MAX = 5_000


@dataclass
class Group:
    """A cluster as this run found it: its members, and what they say about it."""

    insights: list[FeedbackInsight]
    messages: list[FeedbackMessage]
    centroid: list[float]
    title: str
    people: int
    significant: bool
    cluster_id: int | None = None


class FeedbackRunner:
    def __init__(
        self,
        settings: FeedbackSettings,
        connections: Connections,
        embedder: Embedder,
        model: FeedbackModel | None,
        *,
        desk: TicketDesk,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.embedder = embedder
        self.model = model
        self.desk = desk

    async def run(self, team_id: int, *, trigger: str, job_id: int | None = None) -> FeedbackRun:
        record, created = await store.start_run(team_id, trigger=trigger, job_id=job_id)
        if not created and record.status == "succeeded":
            return record
        spent = (self.model.input_tokens, self.model.output_tokens, self.model.cost_usd) if self.model else None
        try:
            await self._run(record)
            record.status = "succeeded"
        except Exception:
            record.status = "failed"
            raise
        finally:
            if self.model is not None and spent is not None:
                record.input_tokens = self.model.input_tokens - spent[0]
                record.output_tokens = self.model.output_tokens - spent[1]
                record.cost_usd = self.model.cost_usd - spent[2]
            record.finished_at = datetime.now(UTC)
            await store.save_run(record)
        return record

    async def _run(self, record: FeedbackRun) -> None:
        team_id = record.team_id
        # A job tried again after a failed attempt runs again on the same record: its counts start over.
        record.tickets_created = record.tickets_updated = 0
        ask = self.model.ask if self.model is not None else None
        reading = await sources.read_sources(
            team_id, self.connections, per_channel=self.settings.max_messages_per_source
        )
        new = await store.add_messages(team_id, record.id, [m.row() for m in reading.messages])
        await sources.commit_cursors(team_id, reading)
        record.read_counts = reading.counts
        record.messages_read = len(new)
        record.errors = list(reading.errors)

        pending = await store.pending_messages(team_id, PENDING_MAX)
        extraction = await insights.extract(pending, ask, batch=self.settings.conversations_per_call)
        vectors = await insights.embed(self.embedder, extraction.candidates)
        await store.add_insights(
            team_id,
            [
                {
                    "message_id": c.message_id,
                    "problem": c.problem,
                    "tried": c.tried,
                    "missing": c.missing,
                    "quote": c.quote,
                    "embedding": v,
                    "embedding_model": self.embedder.model,
                }
                for c, v in zip(extraction.candidates, vectors, strict=True)
            ],
        )
        await store.mark_analysed(team_id, [m.id for m in pending], datetime.now(UTC))
        record.candidates = len(extraction.candidates)
        record.errors += [{"source": "model", "error": e} for e in extraction.errors]

        groups = await self._cluster(team_id, record.id)
        record.clusters = len(groups)
        significant = [g for g in groups if g.significant]
        record.significant = len(significant)
        tickets = await store.live_tickets(team_id)
        for group in significant:
            outcome = await self._ticket_for(record, group, tickets)
            if outcome == "created":
                record.tickets_created += 1
            elif outcome == "updated":
                record.tickets_updated += 1
        log.info(
            "feedback run %s of team %s: %d new messages, %d candidates, %d clusters (%d significant), "
            "%d tickets created, %d updated",
            record.id,
            team_id,
            record.messages_read,
            record.candidates,
            record.clusters,
            record.significant,
            record.tickets_created,
            record.tickets_updated,
        )

    # --- clustering ----------------------------------------------------------------------------------------

    async def _cluster(self, team_id: int, run_id: int) -> list[Group]:
        since = datetime.now(UTC) - timedelta(days=self.settings.window_days)
        found = (await store.insights_since(team_id, since))[-CLUSTER_MAX:]
        labels = await asyncio.to_thread(
            dbscan, [i.embedding for i in found], eps=self.settings.eps, min_samples=self.settings.min_samples
        )
        members: dict[int, list[FeedbackInsight]] = {}
        for insight, label in zip(found, labels, strict=True):
            if label != NOISE:
                members.setdefault(label, []).append(insight)
        messages = await store.messages(team_id, [i.message_id for i in found])  # type: ignore[attr-defined]
        current = await store.memberships(team_id, [i.id for i in found])
        rule = Significance(self.settings.min_count, self.settings.min_people, self.settings.recent_days)
        now = datetime.now(UTC)
        groups: list[Group] = []
        claimed: set[int] = set()
        ordered = sorted(members.values(), key=lambda ms: (-len(ms), ms[0].id))
        for group_insights in ordered:
            group_messages = list({i.message_id: messages[i.message_id] for i in group_insights}.values())  # type: ignore[attr-defined]
            vectors = [i.embedding for i in group_insights]
            seen = [m.posted_at for m in group_messages]
            people = people_of(group_messages)
            group = Group(
                insights=group_insights,
                messages=group_messages,
                centroid=centroid(vectors),
                title=group_insights[central_index(vectors)].problem,
                people=people,
                significant=rule.holds(count=len(group_messages), people=people, last_seen=max(seen), now=now),
            )
            # The cluster most of these candidates were in keeps its id (and its ticket).
            previous = Counter(
                current[i.id] for i in group_insights if i.id in current and current[i.id] not in claimed
            )
            reuse = previous.most_common(1)[0][0] if previous else None
            cluster = await store.save_cluster(
                team_id,
                reuse,
                [(i.id, i.message_id) for i in group_insights],  # type: ignore[attr-defined]
                run_id=run_id,
                title=group.title,
                size=len(group_messages),
                people=people,
                first_seen=min(seen),
                last_seen=max(seen),
                significant=group.significant,
                centroid=group.centroid,
            )
            claimed.add(cluster.id)
            group.cluster_id = cluster.id
            groups.append(group)
        await store.drop_clusters_except(team_id, claimed)
        return groups

    # --- tickets -------------------------------------------------------------------------------------------

    async def _ticket_for(self, record: FeedbackRun, group: Group, tickets: list[DocTicket]) -> str:
        """created, updated or unchanged."""
        team_id = record.team_id
        assert group.cluster_id is not None
        cluster = await store.team_cluster(team_id, group.cluster_id)
        ticket = next((t for t in tickets if cluster and t.id == cluster.ticket_id), None)
        if ticket is None:
            match = best_match(
                group.title,
                group.centroid,
                [Topic(t.id, t.title, t.embedding) for t in tickets],
                min_similarity=self.settings.match_similarity,
                min_overlap=self.settings.match_overlap,
            )
            ticket = next((t for t in tickets if match and t.id == match.ticket_id), None)
            if match is not None:
                log.info(
                    "cluster %s is the topic of ticket %s (%s: similarity %.2f, overlap %.2f)",
                    group.cluster_id,
                    match.ticket_id,
                    match.by,
                    match.similarity,
                    match.overlap,
                )
        if ticket is None:
            ticket = await self._draft(record, group)
            tickets.append(ticket)
            return "created"
        await store.set_cluster_ticket(team_id, group.cluster_id, ticket.id)
        added = await store.add_evidence(team_id, ticket.id, [m.id for m in group.messages], record.id)
        if not added:
            return "unchanged"
        reopened = ticket.status == "resolved" and self.settings.reopen_resolved
        if reopened:
            await store.update_ticket(ticket, status="reopened", resolved_at=None, notified_at=None)
        if ticket.status in ("open", "reopened", "resolved"):
            try:
                await self.desk.report_evidence(ticket, reopened=reopened)
            except AdjutantError as exc:
                # The evidence stays unreported: the next run comments it.
                record.errors = [*record.errors, {"source": f"ticket:{ticket.id}", "error": exc.detail[:300]}]
        return "updated"

    async def _draft(self, record: FeedbackRun, group: Group) -> DocTicket:
        team_id = record.team_id
        quoted = {i.message_id: i.quote for i in group.insights}  # type: ignore[attr-defined]
        quotes = [q.text for q in quotes_of(group.messages, quoted)][: self.settings.quotes_per_ticket]
        pages = await docs_lookup.related_pages(team_id, group.title, min_score=self.settings.page_min_similarity)
        text, problem = await suggest(
            typical=group.title,
            quotes=quotes,
            people=group.people,
            pages=pages,
            ask=self.model.ask if self.model is not None else None,
            max_chars=self.settings.suggestion_max_chars,
        )
        if problem:
            record.errors = [*record.errors, {"source": "model", "error": problem}]
        ticket = await store.create_ticket(
            team_id,
            cluster_id=group.cluster_id,
            status="draft",
            title=text.title,
            summary=text.summary,
            suggestion=text.suggestion,
            pages=[{"title": p.title, "url": p.url, "score": round(p.score, 3)} for p in pages],
            embedding=group.centroid,
        )
        assert group.cluster_id is not None
        await store.set_cluster_ticket(team_id, group.cluster_id, ticket.id)
        await store.add_evidence(team_id, ticket.id, [m.id for m in group.messages], record.id)
        if not self.settings.require_approval:
            try:
                connection = await self.desk.tracker(team_id, None)
                ticket = await self.desk.publish(await store.team_ticket(team_id, ticket.id) or ticket, connection)
            except AdjutantError as exc:
                record.errors = [*record.errors, {"source": f"ticket:{ticket.id}", "error": exc.detail[:300]}]
        return ticket


def run_summary(run: FeedbackRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "status": run.status,
        "messages_read": run.messages_read,
        "clusters": run.clusters,
        "significant": run.significant,
        "tickets_created": run.tickets_created,
        "tickets_updated": run.tickets_updated,
    }
