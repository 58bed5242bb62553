"""The knowledge store: a team's non-code knowledge — Q&A (Stack Overflow via its API or a data dump, GitHub
Discussions, a Markdown FAQ) and documentation (a Confluence space, a docs folder, fetched URLs) — chunked,
embedded with the code-search embedder and searched hybrid (full text + vectors, fused by reciprocal rank).

Searching (for other workflows; call `configure(settings)` once per process, as the app and worker do)::

    from app.knowledge import search

    hits = await search(team_id, "how do I cancel an asyncio task", kinds=["qa", "qa_code"], limit=5)

`search(team_id, query, *, kinds=None, limit=10) -> list[KnowledgeHit]` returns the team's best chunks, best
first; `kinds` is any of "doc" (a documentation chunk), "qa" (an answer with its question's title and gist)
and "qa_code" (a code block of an answer, `language` set when known); None means all. Each `KnowledgeHit` has
`chunk_id` (stable until its document changes), `kind`, `title`, `url`, `text`, `score` (fused; higher is
better, only comparable within one call), `source` (the source's name), `source_kind`, `language`,
`section` (a doc chunk's heading trail, "Deploying > Rollback"),
`attribution` (for Stack Overflow: licence, licence_url, author, author_url, link and a ready `text` credit
line, which must be shown with the content; None for the team's own sources), `qa` (question, score,
accepted, tags, question_id, answer_id of a Q&A hit; None for docs) and `ranks` (its rank per method).
Another team's chunks are never returned. An empty query or an empty `kinds` gives [].
"""

from __future__ import annotations

from collections.abc import Sequence

from app.knowledge.retrieval import KINDS, KnowledgeHit, KnowledgeSearch
from app.runtime.settings import Settings

__all__ = ["KINDS", "KnowledgeHit", "KnowledgeSearch", "configure", "knowledge_search", "search"]

_engine: KnowledgeSearch | None = None


def knowledge_search(settings: Settings) -> KnowledgeSearch:
    """A search engine built from `settings` (the code-search embedder, the knowledge fusion settings)."""
    from app.search.service import make_embedder

    embedder = None

    def factory():
        nonlocal embedder
        if embedder is None:
            embedder = make_embedder(settings)
        return embedder

    knowledge = settings.knowledge
    return KnowledgeSearch(
        factory,
        candidates=knowledge.candidates,
        rrf_k=knowledge.rrf_k,
        ef_search=settings.search.hnsw_ef_search,
        weights={"fts": knowledge.fts_weight, "vector": knowledge.vector_weight},
    )


def configure(settings: Settings) -> KnowledgeSearch:
    """Make `search` use these settings in this process."""
    global _engine
    _engine = knowledge_search(settings)
    return _engine


async def search(
    team_id: int, query: str, *, kinds: Sequence[str] | None = None, limit: int = 10
) -> list[KnowledgeHit]:
    """The team's best knowledge chunks for `query` (see the package docstring)."""
    if _engine is None:
        from app.runtime.config_loader import load_settings

        configure(load_settings())
    assert _engine is not None
    return await _engine.search(team_id, query, kinds=kinds, limit=limit)
