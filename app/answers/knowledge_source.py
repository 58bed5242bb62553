"""Documentation and Q&A from the knowledge store as answer sources. Knowledge search ranks by fused score,
which says nothing absolute, so each hit's similarity to the question is measured here (one embedding call
for the question and the few hits) to hold it to the same relevance floor as code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from app.answers.passages import Filters, Passage, SourceKind
from app.knowledge import KnowledgeHit
from app.search.embeddings import Embedder

KNOWLEDGE_KINDS: dict[SourceKind, tuple[str, ...]] = {"docs": ("doc",), "qa": ("qa", "qa_code")}
MAX_HITS = 10  # each hit is embedded again to measure its similarity: keep it to the best few

Search = Callable[..., Awaitable[list[KnowledgeHit]]]


class KnowledgeSource:
    def __init__(self, kind: SourceKind, search: Search, embedder: Callable[[], Embedder]) -> None:
        self.kind = kind
        self.search = search
        self.embedder = embedder

    async def retrieve(self, query: str, *, team_id: int, limit: int, filters: Filters) -> list[Passage]:
        hits = await self.search(team_id, query, kinds=list(KNOWLEDGE_KINDS[self.kind]), limit=min(limit, MAX_HITS))
        if not hits:
            return []
        embedder = await asyncio.to_thread(self.embedder)
        vectors = await asyncio.to_thread(embedder.embed, [query, *(hit.text for hit in hits)])
        return [self._passage(hit, _cosine(vectors[0], vector)) for hit, vector in zip(hits, vectors[1:], strict=True)]

    def _passage(self, hit: KnowledgeHit, similarity: float) -> Passage:
        title = hit.title + (f" > {hit.section}" if hit.section else "")
        return Passage(
            kind=self.kind,
            document=f"knowledge:{hit.chunk_id}",
            title=f"{title} ({hit.source} #{hit.chunk_id})",  # the id keeps two chunks of one page apart
            text=hit.text,
            language=hit.language,
            url=hit.url,
            attribution=hit.attribution,
            relevance=similarity,
            ranks=dict(hit.ranks),
        )


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))  # the embedders return unit vectors


def knowledge_sources(search: Search, embedder: Callable[[], Embedder]) -> list[KnowledgeSource]:
    return [KnowledgeSource("docs", search, embedder), KnowledgeSource("qa", search, embedder)]
