"""From messages to candidates: the concrete documentation problems a model finds in each conversation (what
the person tried, what was missing or wrong, a quote as evidence), each embedded for clustering.

Conversations go to the model in numbered batches, one call per batch. A quote must appear in the message it
is said to come from (a model that invents evidence is not believed: the message's opening is quoted
instead). With no model, or when a batch's answer cannot be read, each message is its own candidate, so a
run still clusters what people said.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from app.db.models import FeedbackMessage
from app.errors import AdjutantError
from app.search.embeddings import Embedder

log = logging.getLogger("adjutant.feedback")
Ask = Callable[[str], Awaitable[str]]
PROBLEM_MAX = 500
QUOTE_MAX = 400
PROMPT_TEXT_MAX = 2_000
PER_CONVERSATION_MAX = 5
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

PROMPT = """You read what developers said in chat channels, issues and feedback on an assistant's answers.
For each numbered conversation, list the concrete problems with our DOCUMENTATION it shows: a page that is
missing, wrong, outdated or unclear. Small talk, thanks, bug reports without a documentation angle and
questions the docs answer fine have no problems: leave them out.

Answer with JSON only, in this shape:
{{"insights": [{{"conversation": 1, "problem": "one sentence naming the topic and what is wrong",
  "tried": "what the person tried", "missing": "what was missing or wrong",
  "quote": "a short quote copied exactly from the conversation"}}]}}

{conversations}"""


class ExtractedInsight(BaseModel):
    conversation: int = Field(ge=1)
    problem: str = Field(min_length=3)
    tried: str | None = None
    missing: str | None = None
    quote: str | None = None


class ExtractedInsights(BaseModel):
    insights: list[ExtractedInsight] = Field(default_factory=list, max_length=500)


@dataclass(frozen=True)
class Candidate:
    message_id: int
    problem: str
    tried: str | None
    missing: str | None
    quote: str

    def embedding_text(self) -> str:
        return self.problem if not self.missing else f"{self.problem} {self.missing}"


@dataclass
class Extraction:
    candidates: list[Candidate]
    errors: list[str]


async def extract(messages: Sequence[FeedbackMessage], ask: Ask | None, *, batch: int) -> Extraction:
    """Candidates of `messages`, in message order."""
    if ask is None:
        return Extraction([_as_is(m) for m in messages], [])
    found: list[Candidate] = []
    errors: list[str] = []
    for start in range(0, len(messages), batch):
        group = list(messages[start : start + batch])
        try:
            found.extend(await _extract_batch(group, ask))
        except (AdjutantError, ValueError, ValidationError) as exc:
            reason = exc.detail if isinstance(exc, AdjutantError) else "the answer was not the JSON asked for"
            log.warning("feedback insights of %d messages fell back to one per message: %s", len(group), reason)
            errors.append(f"insights: {reason}"[:300])
            found.extend(_as_is(m) for m in group)
    return Extraction(found, errors)


async def embed(embedder: Embedder, candidates: Sequence[Candidate]) -> list[list[float]]:
    if not candidates:
        return []
    return await asyncio.to_thread(embedder.embed, [c.embedding_text() for c in candidates])


async def _extract_batch(group: list[FeedbackMessage], ask: Ask) -> list[Candidate]:
    answer = await ask(PROMPT.format(conversations="\n\n".join(_conversation(i, m) for i, m in enumerate(group, 1))))
    parsed = ExtractedInsights.model_validate(_json_object(answer))
    per_message: dict[int, int] = {}
    found = []
    for item in parsed.insights:
        if item.conversation > len(group):
            continue
        message = group[item.conversation - 1]
        if per_message.get(message.id, 0) >= PER_CONVERSATION_MAX:
            continue
        per_message[message.id] = per_message.get(message.id, 0) + 1
        found.append(
            Candidate(
                message_id=message.id,
                problem=_line(item.problem, PROBLEM_MAX),
                tried=_line(item.tried, PROBLEM_MAX) if item.tried else None,
                missing=_line(item.missing, PROBLEM_MAX) if item.missing else None,
                quote=_checked_quote(item.quote, message),
            )
        )
    return found


def _conversation(number: int, message: FeedbackMessage) -> str:
    who = message.author_name or message.author_id or "someone"
    text = f"Conversation {number} ({message.source}, by {who}):\n{message.text[:PROMPT_TEXT_MAX]}"
    if message.context:
        text += f"\nContext:\n{message.context[:PROMPT_TEXT_MAX]}"
    return text


def _json_object(answer: str) -> Any:
    match = JSON_OBJECT.search(answer or "")
    if match is None:
        raise ValueError("no JSON object")
    return json.loads(match.group(0))


def _checked_quote(quote: str | None, message: FeedbackMessage) -> str:
    said = f"{message.text}\n{message.context or ''}"
    if quote and quote.strip() and _squash(quote) in _squash(said):
        return _line(quote, QUOTE_MAX)
    return _line(message.text, QUOTE_MAX)


def _as_is(message: FeedbackMessage) -> Candidate:
    return Candidate(
        message_id=message.id,
        problem=_line(message.text, PROBLEM_MAX),
        tried=None,
        missing=None,
        quote=_line(message.text, QUOTE_MAX),
    )


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def _line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
