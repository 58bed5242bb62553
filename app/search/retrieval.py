"""Hybrid retrieval: full-text rank (PostgreSQL tsvector) and vector similarity (pgvector HNSW) fused by
reciprocal rank; filters by repository, path prefix and language."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from app.db.repositories import code as store
from app.search.chunker import search_words
from app.search.embeddings import Embedder

Mode = Literal["hybrid", "fts", "vector"]
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "does",
        "do",
        "did",
        "can",
        "should",
        "would",
        "could",
        "into",
        "via",
        "use",
        "used",
        "using",
        "return",
        "returns",
        "get",
        "set",
        "if",
        "else",
        "not",
        "no",
        "yes",
        "all",
        "any",
        "each",
    }
)
TERM = re.compile(r"^[a-z0-9_]+$")


@dataclass
class SearchHit:
    repository_id: int
    path: str
    start_line: int
    end_line: int
    language: str | None
    symbol: str | None
    hierarchy: list[dict[str, Any]]
    text: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def denotation(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def as_dict(self, repository: str | None = None) -> dict[str, Any]:
        return {
            "repository": repository,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "language": self.language,
            "symbol": self.symbol,
            "hierarchy": self.hierarchy,
            "score": round(self.score, 6),
            "ranks": self.ranks,
            "text": self.text,
        }


def tsquery(query: str) -> str | None:
    """Any of the query's words (identifiers split, stop words dropped), as a `simple` tsquery."""
    terms = []
    for word in search_words(query).split():
        if word not in STOPWORDS and len(word) > 1 and TERM.match(word) and word not in terms:
            terms.append(word)
    return " | ".join(terms) if terms else None


def fuse(
    rankings: dict[str, list[dict[str, Any]]], k: int, weights: dict[str, float] | None = None
) -> list[tuple[float, dict[str, Any], dict[str, int]]]:
    """Weighted reciprocal rank fusion: score = sum over methods of weight / (k + rank)."""
    scores: dict[int, float] = {}
    rows: dict[int, dict[str, Any]] = {}
    ranks: dict[int, dict[str, int]] = {}
    for method, hits in rankings.items():
        weight = (weights or {}).get(method, 1.0)
        for rank, row in enumerate(hits, start=1):
            scores[row["id"]] = scores.get(row["id"], 0.0) + weight / (k + rank)
            rows.setdefault(row["id"], row)
            ranks.setdefault(row["id"], {})[method] = rank
    ordered = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))
    return [(scores[i], rows[i], ranks[i]) for i in ordered]


class CodeSearch:
    """Hybrid retrieval over indexed chunks: full-text and vector rankings fused by reciprocal rank."""

    def __init__(
        self,
        embedder_factory: Any,
        *,
        candidates: int,
        rrf_k: int,
        ef_search: int,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.embedder_factory = embedder_factory  # lazily loaded: the model costs ~90 MiB
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.ef_search = ef_search
        self.weights = weights or {}

    def embedder(self) -> Embedder:
        return self.embedder_factory()

    async def search(
        self,
        query: str,
        repo_ids: list[int],
        *,
        top_k: int,
        mode: Mode = "hybrid",
        vector_repo_ids: list[int] | None = None,
        path_prefix: str | None = None,
        language: str | None = None,
    ) -> list[SearchHit]:
        """`vector_repo_ids` (default: all of `repo_ids`) are the indexes embedded with the current model."""
        if not repo_ids or not query.strip():
            return []
        vector_ids = repo_ids if vector_repo_ids is None else vector_repo_ids
        rankings: dict[str, list[dict[str, Any]]] = {}
        if mode in ("hybrid", "fts"):
            terms = tsquery(query)
            if terms:
                rankings["fts"] = await store.full_text(
                    terms, repo_ids, limit=self.candidates, path_prefix=path_prefix, language=language
                )
        if mode in ("hybrid", "vector") and vector_ids:
            embedder = await asyncio.to_thread(self.embedder)
            (vector,) = await asyncio.to_thread(embedder.embed, [query])
            rankings["vector"] = await store.nearest(
                vector,
                vector_ids,
                limit=self.candidates,
                ef_search=self.ef_search,
                path_prefix=path_prefix,
                language=language,
            )
        hits = []
        for score, row, ranks in fuse(rankings, self.rrf_k, self.weights)[:top_k]:
            symbols = json.loads(row["symbols"]) if isinstance(row["symbols"], str) else row["symbols"]
            hits.append(
                SearchHit(
                    repository_id=row["repository_id"],
                    path=row["path"],
                    start_line=row["start_line"],
                    end_line=row["end_line"],
                    language=row["language"],
                    symbol=row["symbol"],
                    hierarchy=symbols if isinstance(symbols, list) else [],
                    text=row["text"],
                    score=score,
                    ranks=ranks,
                )
            )
        return hits
