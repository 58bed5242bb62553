"""Marking a search's words in a result: segments of text, each flagged when it matched, for the template to
wrap in <mark> (the template escapes every segment, so a result's own markup stays text)."""

from __future__ import annotations

import re

MAX_TERMS = 20


def terms(query: str) -> list[str]:
    """The query's words of two characters or more, longest first so a longer match wins."""
    words = {w.lower() for w in re.findall(r"[\w.$-]{2,}", query)}
    return sorted(words, key=len, reverse=True)[:MAX_TERMS]


def segments(text: str, query: str) -> list[tuple[str, bool]]:
    words = terms(query)
    if not words:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            out.append((text[position : match.start()], False))
        out.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        out.append((text[position:], False))
    return out
