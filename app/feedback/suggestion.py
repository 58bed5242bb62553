"""The proposed edit of a ticket: a title and summary for the topic, and either a unified diff against the most
related page (the section to change and its new text) or, when no page was found, an outline of a new page.

The model names the section and writes the new text; the diff is computed here from the page's own text,
so it always applies to the page as it was read. Without a model, the ticket carries the evidence and the
page link only, and its title is the most typical phrasing of the topic.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError

from app.errors import AdjutantError
from app.feedback.docs_lookup import PageMatch

log = logging.getLogger("adjutant.feedback")
Ask = Callable[[str], Awaitable[str]]
TITLE_MAX = 120
SUMMARY_MAX = 1_500
PAGE_PROMPT_MAX = 12_000
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")

PROMPT = """Developers keep running into the same gap in our documentation. Their words:
{quotes}

{page}
Write a documentation ticket. Answer with JSON only:
{{"title": "at most 100 characters, naming the page or topic and the fix",
  "summary": "two or three sentences: what people tried and what the docs lack",
  {shape}}}"""
EDIT_SHAPE = (
    '"section": "the heading of the section to change (or a new heading)", '
    '"new_text": "that section\'s new text in Markdown"'
)
OUTLINE_SHAPE = '"outline": "an outline of the new page in Markdown: headings and one line under each"'


class DraftText(BaseModel):
    title: str = Field(min_length=3)
    summary: str = Field(min_length=3)
    section: str | None = None
    new_text: str | None = None
    outline: str | None = None


@dataclass(frozen=True)
class Suggestion:
    title: str
    summary: str
    suggestion: str | None  # a unified diff, or an outline of a new page; None without a model


async def suggest(
    *, typical: str, quotes: Sequence[str], people: int, pages: Sequence[PageMatch], ask: Ask | None, max_chars: int
) -> tuple[Suggestion, str | None]:
    """The ticket's text, and why the model's answer was not used (None when it was, or no model was asked)."""
    fallback = Suggestion(
        title=_cut(typical, TITLE_MAX),
        summary=_cut(
            f"{len(quotes)} messages from {people} people point at the same gap in the documentation: {typical}",
            SUMMARY_MAX,
        ),
        suggestion=None,
    )
    if ask is None:
        return fallback, None
    page = pages[0] if pages else None
    prompt = PROMPT.format(
        quotes="\n".join(f"- {q}" for q in quotes),
        page=(
            f"The most related page, {page.title} ({page.url or 'no link'}):\n{page.text[:PAGE_PROMPT_MAX]}\n"
            if page
            else "No page of our documentation covers this: propose a new page.\n"
        ),
        shape=EDIT_SHAPE if page else OUTLINE_SHAPE,
    )
    try:
        match = JSON_OBJECT.search(await ask(prompt))
        if match is None:
            raise ValueError("no JSON object")
        draft = DraftText.model_validate(json.loads(match.group(0)))
    except (AdjutantError, ValueError, ValidationError) as exc:
        reason = exc.detail if isinstance(exc, AdjutantError) else "the answer was not the JSON asked for"
        log.warning("feedback suggestion not used: %s", reason)
        return fallback, f"suggestion: {reason}"[:300]
    if page is not None and draft.section and draft.new_text:
        text = edit_diff(page, draft.section, draft.new_text)
    elif draft.outline:
        text = draft.outline.strip()
    else:
        text = None
    if text is not None and len(text) > max_chars:
        text = text[: max_chars - 40].rstrip() + "\n… (cut: the suggestion was longer)"
    return Suggestion(_cut(draft.title, TITLE_MAX), _cut(draft.summary, SUMMARY_MAX), text or None), None


def edit_diff(page: PageMatch, section: str, new_text: str) -> str:
    """A unified diff of the page with `section` replaced by `new_text` (appended as a new section when the
    page has no heading of that name)."""
    old = page.text.splitlines()
    body = new_text.strip().splitlines()
    start, end = _section(old, section)
    if start is None:
        new = [*old, "", f"## {section.strip().lstrip('#').strip()}", "", *body]
    else:
        heading = old[start]
        replaced = body[1:] if body and HEADING.match(body[0]) else body
        new = [*old[:start], heading, "", *replaced, *([""] if end < len(old) else []), *old[end:]]
    name = page.title or "page"
    return "\n".join(difflib.unified_diff(old, new, fromfile=f"a/{name}", tofile=f"b/{name}", lineterm=""))


def _section(lines: list[str], wanted: str) -> tuple[int | None, int]:
    """The heading line of the section named `wanted`, and where that section ends (the next heading of
    the same or a higher level)."""
    target = " ".join(wanted.lstrip("#").split()).casefold()
    for index, line in enumerate(lines):
        heading = HEADING.match(line)
        if heading and " ".join(heading.group(2).split()).casefold() == target:
            level = len(heading.group(1))
            for end in range(index + 1, len(lines)):
                following = HEADING.match(lines[end])
                if following and len(following.group(1)) <= level:
                    return index, end
            return index, len(lines)
    return None, len(lines)


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
