"""The optional rerank step: a language model reorders retrieved chunks by relevance to the query.

It never fails a search: an unusable or failed answer keeps the retrieval order. The model call itself is
injected (`Complete`) so this layer does not depend on the LLM router.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger("adjutant.search")
LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
T = TypeVar("T")
Complete = Callable[[str], Awaitable[str]]
CHUNK_PREVIEW_CHARS = 1500


@dataclass(frozen=True)
class Candidate:
    denotation: str  # "<path>:<start>-<end>", the identifier the model answers with
    content: str


def rerank_prompt(query: str, candidates: Sequence[Candidate]) -> str:
    listing = "\n\n".join(f"[{c.denotation}]\n{c.content[:CHUNK_PREVIEW_CHARS]}" for c in candidates)
    return (
        f"Query: {query}\n\nCode chunks:\n{listing}\n\nList the chunk identifiers (the text in brackets) "
        "relevant to the query, most relevant first, one per line, nothing else."
    )


def parse_ranking(answer: str, known: Sequence[str]) -> list[str]:
    """The identifiers the model listed, in its order, restricted to those it was given, without repeats."""
    allowed = set(known)
    ranked: list[str] = []
    for line in answer.splitlines():
        candidate = LIST_MARKER.sub("", line).strip().strip("[]`\"' ")
        if candidate in allowed and candidate not in ranked:
            ranked.append(candidate)
    return ranked


class LLMReranker:
    def __init__(self, complete: Complete) -> None:
        self.complete = complete

    async def rank(self, query: str, candidates: Sequence[Candidate]) -> list[str]:
        """Denotations, most relevant first: the model's choice, or the input order if it gave none."""
        denotations = [c.denotation for c in candidates]
        if len(candidates) < 2:
            return denotations
        try:
            answer = await self.complete(rerank_prompt(query, candidates))
        except Exception:
            log.warning("rerank model call failed; keeping the retrieval order", exc_info=True)
            return denotations
        return parse_ranking(answer, denotations) or denotations


def reorder(items: Sequence[T], ranked: Sequence[str], key: Callable[[T], str]) -> list[T]:
    """Items the ranking names first (in its order), then the rest in their original order."""
    by_key = {key(item): item for item in items}
    first = [by_key[k] for k in ranked if k in by_key]
    chosen = {id(item) for item in first}
    return first + [item for item in items if id(item) not in chosen]
