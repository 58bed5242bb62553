"""What every source of evidence returns: passages with where they come from and how relevant they are, and
the code source, which reads the team's indexed repositories through code search."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from app.search.service import SearchService

SourceKind = Literal["code", "docs", "qa"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("code", "docs", "qa")


@dataclass(frozen=True)
class Filters:
    """What a caller narrowed the retrieval to; a source ignores what does not apply to it."""

    repositories: list[str] | None = None
    path_prefix: str | None = None
    language: str | None = None


@dataclass
class Passage:
    """One piece of evidence. `document` identifies what it is a part of (a file of a repository, a page, an
    answer): passages of one document with overlapping or touching line ranges are merged into one."""

    kind: SourceKind
    document: str
    title: str
    text: str
    start_line: int | None = None
    end_line: int | None = None
    path: str | None = None
    repository: str | None = None
    language: str | None = None
    symbol: str | None = None
    url: str | None = None
    attribution: dict[str, object] | None = None
    relevance: float | None = None  # cosine similarity to the query, where the source knows it
    ranks: dict[str, int] = field(default_factory=dict)
    chunk_id: int | None = None  # a code passage's stored chunk (the symbol graph expands from it)
    related: str | None = None  # a graph neighbour: how it relates to a retrieved passage ("calls rate_for")

    @property
    def label(self) -> str:
        """How the passage is named to people and to the rerank model."""
        named = self.title
        if self.start_line is not None and self.end_line is not None:
            named = f"{self.title}:{self.start_line}-{self.end_line}"
        return f"{named} ({self.related})" if self.related else named


class Source(Protocol):
    """A retriever of one kind of evidence for a team, best first."""

    kind: SourceKind

    async def retrieve(self, query: str, *, team_id: int, limit: int, filters: Filters) -> list[Passage]: ...


class CodeSource:
    """The team's indexed repositories, through the same hybrid search as /v1/search."""

    kind: SourceKind = "code"

    def __init__(self, search: SearchService) -> None:
        self.search = search

    async def retrieve(self, query: str, *, team_id: int, limit: int, filters: Filters) -> list[Passage]:
        hits, names = await self.search.search(
            query,
            team_id=team_id,
            repos=filters.repositories,
            top_k=limit,
            path_prefix=filters.path_prefix,
            language=filters.language,
            rerank=False,  # the answers retrieval reranks once, across every source
        )
        passages = []
        for hit in hits:
            repository = names.get(hit.repository_id) or str(hit.repository_id)
            passages.append(
                Passage(
                    kind="code",
                    document=f"code:{hit.repository_id}:{hit.path}",
                    title=f"{repository}:{hit.path}",
                    text=hit.text,
                    start_line=hit.start_line,
                    end_line=hit.end_line,
                    path=hit.path,
                    repository=repository,
                    language=hit.language,
                    symbol=hit.symbol,
                    relevance=hit.similarity,
                    ranks=dict(hit.ranks),
                    chunk_id=hit.chunk_id,
                )
            )
        return passages
