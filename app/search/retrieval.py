"""Hybrid retrieval: full-text rank (PostgreSQL tsvector) and vector similarity (pgvector HNSW) fused by
reciprocal rank; filters by repository, path prefix and language."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from app.db.repositories import code as store
from app.db.repositories.chunk_stats import LexemeShares
from app.search.embeddings import Embedder
from app.search.term_shares import TermShares, informative_terms
from app.search.words import IDENTIFIER, search_words, split_identifier

Mode = Literal["hybrid", "fts", "vector"]
Fusion = Literal["rrf", "scores"]
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
SYMBOL_WORDS = 3


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
    # Cosine similarity to the query when the vector ranking found the chunk: an absolute relevance that
    # fused rank scores cannot give (answers refuse below a floor of it).
    similarity: float | None = None
    chunk_id: int | None = None  # the stored chunk, for the symbol graph's expansion

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


def text_terms(query: str) -> list[str]:
    """The query's full-text words: identifiers split, stop words dropped, each once."""
    terms: list[str] = []
    for word in search_words(query).split():
        if word not in STOPWORDS and len(word) > 1 and TERM.match(word) and word not in terms:
            terms.append(word)
    return terms


def tsquery(query: str) -> str | None:
    """Any of the query's words, as a `simple` tsquery."""
    terms = text_terms(query)
    return " | ".join(terms) if terms else None


def match_tsquery(terms: list[str], shares: LexemeShares | None, max_share: float) -> str | None:
    """The words (`text_terms`) whose chunks full text ranks: without the common ones (see term_shares);
    None when no word is left out."""
    kept = informative_terms(terms, shares, max_share)
    return " | ".join(kept) if kept and kept != terms else None


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


def stem(word: str) -> str:
    """A light English stem (plurals, -ing, -ed, a final e), so `retries` meets `retry` and `parsing` meets
    `parse`; only used to compare a query with symbol names, never stored."""
    if len(word) <= 4 or not word.isalpha():
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def query_terms(query: str) -> frozenset[str]:
    return frozenset(stem(w) for w in search_words(query).split() if w not in STOPWORDS and len(w) > 1)


def symbol_match(row: dict[str, Any], terms: frozenset[str]) -> float:
    """How much of the chunk's innermost symbol name the query says, 0..1 (three words say all): a function's
    name is the shortest summary of what it does."""
    if not row.get("symbol"):
        return 0.0
    parts = {stem(p) for p in split_identifier(row["symbol"]) or [row["symbol"].lower()]}
    return min(len(parts & terms), SYMBOL_WORDS) / SYMBOL_WORDS


def fuse_scores(
    rankings: dict[str, list[dict[str, Any]]],
    text_weight: float,
    *,
    symbol_weight: float = 0.0,
    terms: frozenset[str] = frozenset(),
) -> list[tuple[float, dict[str, Any], dict[str, int]]]:
    """Score fusion: cosine similarity plus `text_weight` times the full-text rank scaled by the best one,
    plus `symbol_weight` times the symbol-name match. Unlike rank fusion it keeps how far apart the
    candidates are, which matters when one method is sure. A chunk only full text found starts from the
    lowest similarity among the vector candidates."""
    vector, text = rankings.get("vector", []), rankings.get("fts", [])
    scores: dict[int, float] = {}
    rows: dict[int, dict[str, Any]] = {}
    ranks: dict[int, dict[str, int]] = {}
    for rank, row in enumerate(vector, start=1):
        scores[row["id"]] = float(row["score"])
        rows[row["id"]] = row
        ranks.setdefault(row["id"], {})["vector"] = rank
    base = min(scores.values(), default=0.0)
    best = max((float(row["score"]) for row in text), default=0.0) or 1.0
    for rank, row in enumerate(text, start=1):
        scores[row["id"]] = scores.get(row["id"], base) + text_weight * float(row["score"]) / best
        rows.setdefault(row["id"], row)
        ranks.setdefault(row["id"], {})["fts"] = rank
    if symbol_weight:
        for chunk_id, row in rows.items():
            scores[chunk_id] += symbol_weight * symbol_match(row, terms)
    ordered = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))
    return [(scores[i], rows[i], ranks[i]) for i in ordered]


def embedding_query(query: str) -> str:
    """The query as the embedding model reads it: compound identifiers it names are added as words
    (`parseConfig` -> parse config), since the model splits them into sub-word pieces that mean little."""
    words = IDENTIFIER.findall(query)
    said = {w.lower() for w in words}
    extra: list[str] = []
    for word in words:
        for part in split_identifier(word):
            if part not in said and part not in extra:
                extra.append(part)
    return f"{query} ({' '.join(extra)})" if extra else query


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
        fusion: Fusion = "rrf",
        text_weight: float = 0.1,
        symbol_weight: float = 0.0,
        max_term_share: float = 1.0,
    ) -> None:
        self.embedder_factory = embedder_factory  # lazily loaded: the model costs ~90 MiB
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.ef_search = ef_search
        self.weights = weights or {}
        self.fusion = fusion
        self.text_weight = text_weight
        self.symbol_weight = symbol_weight
        self.max_term_share = max_term_share
        self.term_shares = TermShares()

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
        terms = match = None
        if mode in ("hybrid", "fts"):
            words = text_terms(query)  # once: both the ranked and the matching query come from them
            terms = " | ".join(words) if words else None
            if terms is not None and self.max_term_share < 1.0:
                match = match_tsquery(words, self.term_shares.current(), self.max_term_share)
        vector = None
        if mode in ("hybrid", "vector") and vector_ids:
            embedder = await asyncio.to_thread(self.embedder)
            (vector,) = await asyncio.to_thread(embedder.embed, [embedding_query(query)])
        # Both candidate lists in one statement: one database round trip per search.
        rankings = await store.candidates(
            terms,
            vector,
            repo_ids,
            vector_ids,
            limit=self.candidates,
            ef_search=self.ef_search,
            path_prefix=path_prefix,
            language=language,
            match=match,
        )
        similarity = {row["id"]: float(row["score"]) for row in rankings.get("vector", [])}
        hits = []
        fused = (
            fuse_scores(rankings, self.text_weight, symbol_weight=self.symbol_weight, terms=query_terms(query))
            if self.fusion == "scores"
            else fuse(rankings, self.rrf_k, self.weights)
        )
        for score, row, ranks in fused[:top_k]:
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
                    similarity=similarity.get(row["id"]),
                    chunk_id=row["id"],
                )
            )
        return hits
