"""Answers as the API, the CLI and the agents use them: retrieve, fuse the context, and either say "I don't
know" (nothing relevant: no model call) or stream the model's cited answer with its citations checked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from app.answers.citations import CitationCheck, CitationStream
from app.answers.context import Context, build_context
from app.answers.events import (
    AnswerEvent,
    AnswerUsage,
    CitationReport,
    DeltaEvent,
    ErrorEvent,
    FinalEvent,
    SourcesEvent,
    source_of,
)
from app.answers.passages import Filters, SourceKind
from app.answers.prompt import ResponseType, answer_messages
from app.answers.retrieval import AnswerRetrieval, Retrieved
from app.errors import AdjutantError, LLMError
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.llm.types import ErrorEvent as ModelError
from app.llm.types import Finish, LLMRequest, RouteEvent, TextDelta, UsageEvent
from app.runtime.settings import AnswerSettings

log = logging.getLogger("adjutant.answers")
NO_ANSWER = (
    "I don't know: nothing in the team's indexed sources is relevant enough to answer this. "
    "Try other words, or index the code or documents that hold the answer."
)


@dataclass(frozen=True)
class Question:
    query: str
    team_id: int
    response_type: ResponseType = "explain"
    max_results: int = 8
    kinds: Sequence[SourceKind] | None = None
    filters: Filters = field(default_factory=Filters)
    include_sources: bool = True


@dataclass(frozen=True)
class Prepared:
    """A question with its evidence, before any model call: everything that can fail on bad input has."""

    question: Question
    retrieved: Retrieved
    context: Context

    @property
    def answerable(self) -> bool:
        return bool(self.context.citations)


class Answers:
    def __init__(
        self, settings: AnswerSettings, retrieval: AnswerRetrieval, registry: ModelRegistry, router: LLMRouter
    ) -> None:
        self.settings = settings
        self.retrieval = retrieval
        self.registry = registry
        self.router = router

    async def prepare(self, question: Question) -> Prepared:
        """Retrieval and context; typed errors (unknown repository, unavailable source kind) raise here."""
        retrieved = await self.retrieval.retrieve(
            question.query,
            team_id=question.team_id,
            limit=question.max_results,
            kinds=question.kinds,
            filters=question.filters,
        )
        context = build_context(retrieved.passages, budget_tokens=self.settings.context_tokens)
        return Prepared(question, retrieved, context)

    async def events(self, prepared: Prepared) -> AsyncIterator[AnswerEvent]:
        """Sources, then text deltas, then the final event; a failure after the sources is an error event,
        and the stream ends after it either way."""
        question = prepared.question
        yield SourcesEvent(
            sources=[source_of(c, include_text=question.include_sources) for c in prepared.context.citations],
            best_relevance=prepared.retrieved.best_relevance,
        )
        if not prepared.answerable:
            yield DeltaEvent(text=NO_ANSWER)
            none = CitationReport(cited=[], removed=[])
            yield FinalEvent(answered=False, model=None, citations=none, usage=AnswerUsage())
            return
        try:
            async for event in self._model_events(prepared):
                yield event
        except AdjutantError as exc:
            yield ErrorEvent(code=exc.code, message=exc.detail)
        except Exception:
            log.exception("answer stream failed")
            yield ErrorEvent(code="INTERNAL_ERROR", message="the answer could not be completed")

    async def _model_events(self, prepared: Prepared) -> AsyncIterator[AnswerEvent]:
        question = prepared.question
        model, _ = self.registry.resolve(self.settings.model or None)
        request = LLMRequest(
            model=model.name,
            messages=answer_messages(question.query, prepared.context, question.response_type),
            max_output_tokens=self.settings.max_output_tokens,
            temperature=0,
            purpose="answer",
        )
        check = CitationCheck(len(prepared.context.citations))
        cleaned = CitationStream(check)
        usage = AnswerUsage()
        answered_by, finish = model.name, None
        stream = self.router.stream(request)
        try:
            async for event in stream:
                if isinstance(event, RouteEvent):
                    answered_by = event.model
                elif isinstance(event, TextDelta):
                    text = cleaned.feed(event.text)
                    if text:
                        yield DeltaEvent(text=text)
                elif isinstance(event, UsageEvent):
                    usage = AnswerUsage(
                        input_tokens=usage.input_tokens + event.usage.input_tokens,
                        output_tokens=usage.output_tokens + event.usage.output_tokens,
                    )
                elif isinstance(event, Finish):
                    finish = event.reason
                elif isinstance(event, ModelError):
                    raise LLMError(event.message, model=event.model, provider=event.provider)
        finally:
            await stream.aclose()
        rest = cleaned.flush()
        if rest:
            yield DeltaEvent(text=rest)
        yield FinalEvent(
            answered=True,
            model=answered_by,
            citations=CitationReport(**check.summary()),
            usage=usage,
            finish=finish,
        )
