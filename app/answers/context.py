"""Context fusion: the passages a model is shown. Overlapping or touching passages of one document are merged
and identical texts shown once; the most relevant are kept until the token budget is spent; what is kept is
ordered by document and line and numbered, and those numbers are the citations."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app.answers.passages import Passage
from app.llm.tokens import count_text

MIN_TRUNCATED_TOKENS = 64
# Chunks of one file are separated only by the blank lines between definitions: passages this close are one
# stretch of code, and the lines between them are shown blank.
MERGE_GAP_LINES = 2  # a passage cut shorter than this says too little to be worth a citation


@dataclass(frozen=True)
class Citation:
    number: int
    passage: Passage


@dataclass(frozen=True)
class Context:
    citations: list[Citation]
    tokens: int

    def render(self) -> str:
        """The numbered sources as the model reads them."""
        blocks = []
        for citation in self.citations:
            passage = citation.passage
            fence = passage.language or ""
            blocks.append(f"[{citation.number}] {passage.label}\n```{fence}\n{passage.text}\n```")
        return "\n\n".join(blocks)


def merge_overlapping(passages: Sequence[Passage]) -> list[Passage]:
    """One passage per run of overlapping or adjacent line ranges of a document, in the order of the first
    (most relevant) of each run; the merged text is the union of the lines."""
    merged: list[Passage] = []
    for passage in passages:
        current = replace(passage, ranks=dict(passage.ranks))
        touching = [m for m in merged if _touches(m, current)]
        if not touching:
            merged.append(current)
            continue
        # The new lines may bridge two runs of the document: all of them become one, where the first stood.
        position = next(i for i, m in enumerate(merged) if m is touching[0])
        for run in touching:
            current = _union(run, current)
        merged = [m for m in merged if not any(m is run for run in touching)]
        merged.insert(position, current)
    return merged


def _touches(a: Passage, b: Passage) -> bool:
    if a.document != b.document or None in (a.start_line, a.end_line, b.start_line, b.end_line):
        return False
    gap = MERGE_GAP_LINES + 1
    return b.start_line <= a.end_line + gap and a.start_line <= b.end_line + gap  # type: ignore[operator]


def _union(a: Passage, b: Passage) -> Passage:
    first, second = (a, b) if a.start_line <= b.start_line else (b, a)  # type: ignore[operator]
    lines = first.text.split("\n")
    if second.end_line > first.end_line:  # type: ignore[operator]
        overlap = first.end_line - second.start_line + 1  # type: ignore[operator]
        lines += [""] * max(-overlap, 0) + second.text.split("\n")[max(overlap, 0) :]
    relevances = [r for r in (a.relevance, b.relevance) if r is not None]
    return replace(
        a,
        text="\n".join(lines),
        start_line=first.start_line,
        end_line=max(first.end_line, second.end_line),  # type: ignore[type-var]
        relevance=max(relevances) if relevances else None,
        symbol=a.symbol or b.symbol,
    )


def build_context(
    passages: Sequence[Passage], *, budget_tokens: int, count: Callable[[str], int] = count_text
) -> Context:
    """`passages` best first. The best passage is cut to the budget rather than dropped; later ones that do
    not fit are skipped (a smaller one further down may still fit)."""
    seen_texts: set[str] = set()
    kept: list[Passage] = []
    spent = 0
    for passage in merge_overlapping(passages):
        digest = hashlib.sha256(passage.text.strip().encode()).hexdigest()
        if digest in seen_texts:  # the same code indexed twice (two checkouts, two names)
            continue
        cost = count(passage.text) + count(passage.label) + 8
        if spent + cost > budget_tokens:
            if kept:
                continue
            passage = _truncate(passage, budget_tokens - count(passage.label) - 8, count)
            if passage is None:
                break
            cost = count(passage.text) + count(passage.label) + 8
        seen_texts.add(digest)
        kept.append(passage)
        spent += cost
    kept.sort(key=lambda p: (p.document, p.start_line or 0))
    return Context([Citation(n, p) for n, p in enumerate(kept, start=1)], spent)


def _truncate(passage: Passage, tokens: int, count: Callable[[str], int]) -> Passage | None:
    if tokens < MIN_TRUNCATED_TOKENS:
        return None
    lines = passage.text.split("\n")
    while len(lines) > 1 and count("\n".join(lines)) > tokens:
        lines = lines[: max(1, len(lines) * 3 // 4)]
    text = "\n".join(lines)
    if count(text) > tokens:
        return None
    end = passage.start_line + len(lines) - 1 if passage.start_line is not None else None
    return replace(passage, text=text, end_line=end)
