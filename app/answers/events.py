"""What an answer is made of on the wire: its numbered sources, text deltas, and a final event with the
citations check and the usage (or an error event, which also ends a stream)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.answers.context import Citation
from app.answers.passages import SourceKind


class AnswerSource(BaseModel):
    number: int = Field(description="What [n] in the answer refers to.")
    kind: SourceKind
    title: str = Field(description="repository:path for code; the page or question title otherwise.")
    repository: str | None = None
    path: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    language: str | None = None
    symbol: str | None = None
    url: str | None = None
    attribution: dict[str, Any] | None = None
    relevance: float | None = Field(default=None, description="Cosine similarity to the query, when known.")
    related: str | None = Field(
        default=None, description="A symbol-graph neighbour of the retrieved code: how it relates (caller or callee)."
    )
    text: str | None = Field(default=None, description="The passage shown to the model; null without include_sources.")


class AnswerUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class CitationReport(BaseModel):
    cited: list[int] = Field(description="Source numbers the answer cites.")
    removed: list[int] = Field(description="Numbers the model cited that name no source; removed from the text.")


class SourcesEvent(BaseModel):
    event: Literal["sources"] = "sources"
    sources: list[AnswerSource]
    best_relevance: float | None = Field(description="The highest similarity retrieval found (null: none known).")


class DeltaEvent(BaseModel):
    event: Literal["delta"] = "delta"
    text: str


class FinalEvent(BaseModel):
    event: Literal["final"] = "final"
    answered: bool = Field(description="False when retrieval found nothing relevant and no model was asked.")
    model: str | None
    citations: CitationReport
    usage: AnswerUsage
    finish: str | None = Field(default=None, description="Why the model stopped (stop, max_tokens, ...).")


class ErrorEvent(BaseModel):
    event: Literal["error"] = "error"
    code: str
    message: str


AnswerEvent = SourcesEvent | DeltaEvent | FinalEvent | ErrorEvent


def source_of(citation: Citation, *, include_text: bool) -> AnswerSource:
    p = citation.passage
    return AnswerSource(
        number=citation.number,
        kind=p.kind,
        title=p.title,
        repository=p.repository,
        path=p.path,
        start_line=p.start_line,
        end_line=p.end_line,
        language=p.language,
        symbol=p.symbol,
        url=p.url,
        attribution=p.attribution,
        relevance=round(p.relevance, 4) if p.relevance is not None else None,
        related=p.related,
        text=p.text if include_text else None,
    )
