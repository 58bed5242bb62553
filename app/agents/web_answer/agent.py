"""Writes the `answer` of a web search from its top results, citing them by number."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template

from app.integrations.websearch import WebHit

TEMPLATE = Template(Path(__file__).with_name("prompt.md").read_text(encoding="utf-8"))
MAX_WORDS = 200
ANSWER_CHARS = 3000


def prompt(question: str, hits: Sequence[WebHit]) -> str:
    results = "\n\n".join(f"[{n}] {hit.title}\n{hit.url}\n{hit.snippet}" for n, hit in enumerate(hits, 1))
    return TEMPLATE.safe_substitute(question=question, results=results, max_words=MAX_WORDS).strip()


def parse(answer: str) -> str | None:
    text = answer.strip()
    if not text:
        return None
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"
