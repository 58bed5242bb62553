"""The documentation pages most related to a topic, for a ticket's doc links and the suggested edit.

Documentation is indexed by the knowledge store (`app.knowledge`: a Confluence space, a docs folder of an
indexed repository, fetched URLs), not here: this module is the one place the feedback workflow asks it for
pages. The store's fused scores only rank one search against itself, and a search always answers something,
so each page found is scored again here: the cosine similarity of the topic and the page's best passage in
the local embeddings. A page below `min_score` is not related, and "no page" is a valid answer (the missing
page is then itself the suggestion).
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel, Field

from app import knowledge
from app.errors import AdjutantError
from app.feedback.clustering import cosine
from app.search.embeddings import local_embedder

log = logging.getLogger("adjutant.feedback")
SEARCHED_PER_PAGE = 4  # chunks asked for per page wanted: a page is usually several chunks
PAGE_TEXT_MAX = 20_000


class PageMatch(BaseModel):
    title: str
    url: str | None = None
    text: str = ""  # the page's passages the search found, in page order
    score: float = Field(ge=0, le=1)


async def related_pages(team_id: int, text: str, limit: int = 3, *, min_score: float = 0.0) -> list[PageMatch]:
    """Up to `limit` pages of the team's documentation about `text`, best first, each scored in [0, 1]."""
    if not text.strip():
        return []
    try:
        hits = await knowledge.search(team_id, text, kinds=["doc"], limit=limit * SEARCHED_PER_PAGE)
    except AdjutantError as exc:
        log.warning("docs lookup failed for team %s: %s", team_id, exc.detail)
        return []
    if not hits:
        return []
    pages: dict[str, list[knowledge.KnowledgeHit]] = {}
    for hit in hits:
        pages.setdefault(hit.url or hit.title, []).append(hit)
    embedder = await asyncio.to_thread(local_embedder)
    vectors = await asyncio.to_thread(embedder.embed, [text, *(h.text for h in hits)])
    similarity = {id(h): max(cosine(vectors[0], v), 0.0) for h, v in zip(hits, vectors[1:], strict=True)}
    found = []
    for chunks in pages.values():
        score = max(similarity[id(h)] for h in chunks)
        if score < min_score:
            continue
        ordered = sorted(chunks, key=lambda h: h.chunk_id)
        found.append(
            PageMatch(
                title=ordered[0].title,
                url=ordered[0].url,
                text=_page_text(ordered)[:PAGE_TEXT_MAX],
                score=min(score, 1.0),
            )
        )
    found.sort(key=lambda p: -p.score)
    return found[:limit]


def _page_text(chunks: list[knowledge.KnowledgeHit]) -> str:
    """The passages as Markdown again: the store keeps a chunk's headings as its section trail
    ("Install > Windows"), so each section's heading is put back where it starts, for the diff to name it."""
    parts: list[str] = []
    current = None
    for chunk in chunks:
        trail = [t.strip() for t in (chunk.section or "").split(">") if t.strip()]
        if trail and trail != current:
            parts.append(f"{'#' * min(len(trail), 6)} {trail[-1]}")
        current = trail or current
        parts.append(chunk.text.strip())
    return "\n\n".join(parts)
