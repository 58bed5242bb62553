"""Voice: earlier approved notes of the same repository, found by embeddings (pgvector), shown to the polish
pass so new notes read like the ones the maintainers accepted. Approving notes embeds their external text."""

from __future__ import annotations

import asyncio
import logging

from app.db.repositories import release_notes as store
from app.search.service import SearchService

log = logging.getLogger("adjutant.releases")
MAX_EMBED_CHARS = 4000


class Voice:
    def __init__(self, search: SearchService) -> None:
        self.search = search

    async def embed(self, text: str) -> tuple[list[float], str] | None:
        """The text's embedding and the model that made it; None when no embedder can run here."""
        try:
            embedder = await asyncio.to_thread(self.search.embedder)
            vectors = await asyncio.to_thread(embedder.embed, [text[:MAX_EMBED_CHARS]])
        except Exception as exc:  # noqa: BLE001 - approving never fails on the embedder (ONNX, OpenAI, config)
            log.warning("release notes could not be embedded: %s", exc.__class__.__name__)
            return None
        return vectors[0], embedder.model

    async def examples(
        self, team_id: int, repository_id: int, text: str, *, limit: int, exclude_id: int | None = None
    ) -> list[str]:
        if limit <= 0:
            return []
        embedded = await self.embed(text)
        if embedded is None:
            return []
        vector, model = embedded
        return await store.voice_examples(team_id, repository_id, vector, model, exclude_id=exclude_id, limit=limit)
