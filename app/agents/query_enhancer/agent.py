"""Rewrites a user's query into a more specific one (`generate-enhanced-user-query`)."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

TEMPLATE = Template(Path(__file__).with_name("prompt.md").read_text(encoding="utf-8"))
PREAMBLE = re.compile(
    r"^\s*(?:here(?: is|'s) )?(?:the |your )?(?:rewritten|enhanced|improved) (?:request|query)\s*:\s*", re.I
)
ANSWER_CHARS_FLOOR = 4000


def prompt(user_query: str) -> str:
    return TEMPLATE.safe_substitute(user_query=user_query).strip()


def parse(answer: str, user_query: str) -> str | None:
    """The rewritten query without a preamble, fences or wrapping quotes; None when nothing usable is left."""
    text = answer.strip()
    fenced = re.fullmatch(r"```[^\n]*\n(.*?)\n?```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    text = PREAMBLE.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    if not text:
        return None
    limit = max(ANSWER_CHARS_FLOOR, 4 * len(user_query))
    return text[:limit]
