"""Hybrid search over a team's knowledge chunks: full-text rank and vector similarity fused by reciprocal rank,
as code search does, with each hit's document title, link, attribution and Q&A facts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.db.repositories import knowledge as store
from app.knowledge.items import ChunkKind
from app.search.embeddings import Embedder
from app.search.retrieval import fuse, tsquery

KINDS: tuple[ChunkKind, ...] = ("doc", "qa", "qa_code")
QA_FACTS = ("question", "score", "accepted", "tags", "question_id", "answer_id")


@dataclass
class KnowledgeHit:
    """One ranked chunk. `attribution` is what must be shown with it (Stack Overflow's CC BY-SA credit), or None."""

    chunk_id: int
    kind: ChunkKind
    title: str
    url: str | None
    text: str
    score: float
    source: str  # the source's name
    source_kind: str
    language: str | None = None
    section: str | None = None  # a documentation chunk's heading trail
    attribution: dict[str, Any] | None = None
    qa: dict[str, Any] | None = None  # question, score, accepted, tags of a Q&A hit
    ranks: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "text": self.text,
            "score": round(self.score, 6),
            "source": self.source,
            "source_kind": self.source_kind,
            "language": self.language,
            "section": self.section,
            "attribution": self.attribution,
            "qa": self.qa,
            "ranks": self.ranks,
        }


def _hit(score: float, row: dict[str, Any], ranks: dict[str, int]) -> KnowledgeHit:
    meta = row["meta"]
    meta = json.loads(meta) if isinstance(meta, str) else (meta or {})
    qa = {k: meta.get(k) for k in QA_FACTS if k in meta} if row["kind"] != "doc" else None
    return KnowledgeHit(
        chunk_id=row["id"],
        kind=row["kind"],
        title=row["title"],
        url=row["url"],
        text=row["text"],
        score=score,
        source=row["source"],
        source_kind=row["source_kind"],
        language=row["language"],
        section=row["section"],
        attribution=meta.get("attribution"),
        qa=qa,
        ranks=ranks,
    )


class KnowledgeSearch:
    def __init__(
        self,
        embedder_factory: Callable[[], Embedder],
        *,
        candidates: int,
        rrf_k: int,
        ef_search: int,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.embedder_factory = embedder_factory  # lazily loaded: the local model costs ~90 MiB
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.ef_search = ef_search
        self.weights = weights or {}

    async def search(
        self, team_id: int, query: str, *, kinds: Sequence[str] | None = None, limit: int = 10
    ) -> list[KnowledgeHit]:
        wanted = [k for k in KINDS if kinds is None or k in kinds]
        if not query.strip() or not wanted or limit < 1:
            return []
        depth = max(self.candidates, limit)
        rankings: dict[str, list[dict[str, Any]]] = {}
        terms = tsquery(query)
        if terms:
            rankings["fts"] = await store.full_text(terms, team_id, wanted, limit=depth)
        embedder = await asyncio.to_thread(self.embedder_factory)
        (vector,) = await asyncio.to_thread(embedder.embed, [query])
        rankings["vector"] = await store.nearest(
            vector, team_id, wanted, model=embedder.model, limit=depth, ef_search=self.ef_search
        )
        return [_hit(score, row, ranks) for score, row, ranks in fuse(rankings, self.rrf_k, self.weights)[:limit]]
