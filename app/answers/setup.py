"""The answers service from settings: the code source always; other sources (documentation, Q&A) are passed
in by whoever owns them, so this package never reaches into another workflow."""

from __future__ import annotations

from collections.abc import Sequence

from app.answers.passages import CodeSource, Source
from app.answers.retrieval import AnswerRetrieval, Reranker
from app.answers.service import Answers
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.runtime.settings import Settings
from app.search.service import SearchService


def make_answers(
    settings: Settings,
    search: SearchService,
    registry: ModelRegistry,
    router: LLMRouter,
    *,
    extra_sources: Sequence[Source] = (),
    reranker: Reranker | None = None,
) -> Answers:
    retrieval = AnswerRetrieval([CodeSource(search), *extra_sources], settings.answers, reranker)
    return Answers(settings.answers, retrieval, registry, router)
