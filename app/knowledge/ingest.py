"""Storing imported items: unchanged items (same content hash, same embedding model) are skipped; new and changed
ones are chunked, embedded (reusing vectors of identical chunks) and replace what their external id had."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass

from app.db.repositories import knowledge as store
from app.knowledge.chunking import chunk_item
from app.knowledge.items import KnowledgeItem
from app.search.embeddings import Embedder

BATCH = 32


@dataclass
class ImportStats:
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    pruned: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


ProgressCallback = Callable[[ImportStats], object]


class Ingest:
    def __init__(
        self,
        *,
        team_id: int,
        source_id: int,
        embedder: Embedder,
        max_chunk_chars: int,
        max_items: int,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.team_id = team_id
        self.source_id = source_id
        self.embedder = embedder
        self.max_chunk_chars = max_chunk_chars
        self.max_items = max_items
        self.on_progress = on_progress
        self.stats = ImportStats()
        self.kept: list[str] = []  # external ids seen, for pruning a full snapshot

    async def run(self, items: AsyncIterator[KnowledgeItem], *, prune: bool = False) -> ImportStats:
        """Store every item `items` yields (at most `max_items`); `prune` then removes the source's documents
        this run did not see (for sources imported whole: a folder, a space, a URL list)."""
        batch: list[KnowledgeItem] = []
        try:
            async for item in items:
                batch.append(item)
                if len(batch) >= BATCH:
                    await self._store(batch)
                    batch = []
                if self.stats.seen + len(batch) >= self.max_items:
                    break
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()  # a reader stopped early releases its client or file now
        if batch:
            await self._store(batch)
        if prune:
            self.stats.pruned = await store.prune_documents(self.source_id, self.kept)
        await store.refresh_counts(self.source_id)
        await self._report()
        return self.stats

    async def _store(self, batch: list[KnowledgeItem]) -> None:
        unique = list({item.external_id: item for item in batch}.values())  # a later duplicate wins
        known = await store.document_hashes(self.source_id, [i.external_id for i in unique])
        for item in unique:
            self.stats.seen += 1
            self.kept.append(item.external_id)
            digest = item.content_hash()
            previous = known.get(item.external_id)
            if previous == (digest, self.embedder.model):
                self.stats.unchanged += 1
                continue
            await self._replace(item, digest)
            if previous is None:
                self.stats.created += 1
            else:
                self.stats.updated += 1
        await self._report()

    async def _replace(self, item: KnowledgeItem, digest: str) -> None:
        drafts = chunk_item(item, max_chars=self.max_chunk_chars)
        cached = await store.cached_embeddings(self.team_id, self.embedder.model, [d.content_hash for d in drafts])
        missing = [d for d in drafts if d.content_hash not in cached]
        if missing:
            vectors = await asyncio.to_thread(self.embedder.embed, [d.embed_text for d in missing])
            cached |= {d.content_hash: v for d, v in zip(missing, vectors, strict=True)}
        self.stats.embedded += len(missing)
        self.stats.reused += len(drafts) - len(missing)
        self.stats.chunks += len(drafts)
        meta = dict(item.meta)
        if item.attribution is not None:
            meta["attribution"] = item.attribution
        await store.replace_document(
            team_id=self.team_id,
            source_id=self.source_id,
            document=store.DocumentRow(item.external_id, item.kind, item.title[:1000], item.url, meta, digest),
            chunks=[
                store.ChunkRow(
                    d.position,
                    d.kind,
                    d.language,
                    d.section,
                    d.text,
                    d.search_text,
                    d.content_hash,
                    cached[d.content_hash],
                )
                for d in drafts
            ],
            model=self.embedder.model,
        )

    async def _report(self) -> None:
        if self.on_progress is not None:
            result = self.on_progress(self.stats)
            if asyncio.iscoroutine(result):
                await result
