"""Is a cluster the topic of a ticket we already have? Semantic (the cosine of the cluster's centroid and the
ticket's embedding) or lexical (the overlap of the words of their titles): either is enough.

Both, because each misses what the other catches: embeddings see that "webhook secret" and "signing key" are
one topic, words see that two titles naming the same setting are one topic however differently the rest
of each sentence goes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.feedback.clustering import cosine

WORD = re.compile(r"[a-z0-9][a-z0-9_.'-]*")
STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        "a an and are as at be but by can cannot can't do does doesn't don't for from how i in into is it its "
        "missing no not of on or our page the there this to was what when where which why with docs doc "
        "documentation documented say says explain explained",
    )
)


@dataclass(frozen=True)
class Topic:
    id: int
    title: str
    embedding: Sequence[float]


@dataclass(frozen=True)
class Match:
    ticket_id: int
    similarity: float
    overlap: float
    by: str  # semantic | lexical


def words(text: str) -> frozenset[str]:
    # A sentence's final "." and a quote's "'" are not part of the word; "config.toml" and "don't" keep theirs.
    found = (w.rstrip(".'-") for w in WORD.findall(text.casefold().replace("\u2019", "'")))
    return frozenset(w for w in found if w not in STOP_WORDS and len(w) > 1)


def overlap(a: str, b: str) -> float:
    """Jaccard overlap of the content words of two texts."""
    first, second = words(a), words(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def best_match(
    title: str, centroid: Sequence[float], tickets: Sequence[Topic], *, min_similarity: float, min_overlap: float
) -> Match | None:
    """The ticket the cluster is most like, if it is alike enough by either measure."""
    best: Match | None = None
    for ticket in tickets:
        similarity = cosine(centroid, ticket.embedding)
        lexical = overlap(title, ticket.title)
        if similarity >= min_similarity:
            candidate = Match(ticket.id, similarity, lexical, "semantic")
        elif lexical >= min_overlap:
            candidate = Match(ticket.id, similarity, lexical, "lexical")
        else:
            continue
        if best is None or (candidate.similarity, candidate.overlap) > (best.similarity, best.overlap):
            best = candidate
    return best
