"""One retrieval over every source of evidence: each source's ranking fused by weighted reciprocal rank, a
relevance floor under which nothing counts as evidence, then an optional rerank of the shortlist."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.answers.graph_neighbours import neighbours
from app.answers.passages import Filters, Passage, Source, SourceKind
from app.errors import InvalidRequest
from app.runtime.settings import AnswerSettings
from app.search.rerank import Candidate, reorder


class Reranker(Protocol):
    async def rank(self, query: str, candidates: Sequence[Candidate]) -> list[str]: ...


@dataclass(frozen=True)
class Retrieved:
    """The evidence, best first; empty when nothing reached the floor. `best_relevance` is the highest
    similarity any source reported (None when none could say)."""

    passages: list[Passage]
    best_relevance: float | None
    considered: int


def fuse_sources(
    rankings: Sequence[tuple[SourceKind, list[Passage]]], weights: dict[str, float], k: int
) -> list[Passage]:
    """Weighted reciprocal rank across sources: score = weight(kind) / (k + rank in its source)."""
    scores: dict[tuple[str, int | None, int | None], float] = {}
    chosen: dict[tuple[str, int | None, int | None], Passage] = {}
    for kind, passages in rankings:
        weight = weights.get(kind, 1.0)
        for rank, passage in enumerate(passages, start=1):
            key = (passage.document, passage.start_line, passage.end_line)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            chosen.setdefault(key, passage)
    order = sorted(scores, key=lambda key: (-scores[key], key[0], key[1] or 0))
    return [chosen[key] for key in order]


class AnswerRetrieval:
    def __init__(self, sources: Sequence[Source], settings: AnswerSettings, reranker: Reranker | None = None) -> None:
        self.sources = list(sources)
        self.settings = settings
        self.reranker = reranker

    def kinds(self) -> list[SourceKind]:
        return [source.kind for source in self.sources]

    async def retrieve(
        self,
        query: str,
        *,
        team_id: int,
        limit: int,
        kinds: Sequence[SourceKind] | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> Retrieved:
        chosen = [s for s in self.sources if kinds is None or s.kind in kinds]
        if not chosen:
            have = ", ".join(self.kinds()) or "none"
            raise InvalidRequest(f"no source of kind {', '.join(kinds or [])} on this server (available: {have})")
        filters = filters or Filters()
        settings = self.settings
        found = await asyncio.gather(
            *(s.retrieve(query, team_id=team_id, limit=settings.candidates, filters=filters) for s in chosen)
        )
        weights = {"code": settings.code_weight, "docs": settings.docs_weight, "qa": settings.qa_weight}
        fused = fuse_sources([(s.kind, p) for s, p in zip(chosen, found, strict=True)], weights, settings.rrf_k)
        known = [p.relevance for p in fused if p.relevance is not None]
        best = max(known) if known else None
        if best is None or best < settings.relevance_floor:
            return Retrieved([], best, len(fused))
        # A passage only words matched (no similarity known) stays: full text finds exact identifiers.
        kept = [p for p in fused if p.relevance is None or p.relevance >= settings.relevance_floor]
        if (settings.rerank if rerank is None else rerank) and self.reranker is not None and len(kept) > 1:
            shortlist = kept[: settings.rerank_candidates]
            ranked = await self.reranker.rank(query, [Candidate(p.label, p.text) for p in shortlist])
            reordered = reorder(shortlist, ranked, key=lambda p: p.label)
            for position, passage in enumerate(reordered, start=1):
                passage.ranks["rerank"] = position
            kept = reordered + kept[len(shortlist) :]
        chosen_passages = kept[:limit]
        room = min(settings.graph_neighbours, limit - len(chosen_passages))
        if room > 0 and any(s.kind == "code" for s in chosen):
            chosen_passages += await neighbours(chosen_passages, team_id=team_id, room=room)
        return Retrieved(chosen_passages, best, len(fused))
