"""The graph's four questions for one team, as every client asks them (REST, CLI, the agents' tool):
the repository is the team's by name (another team's answers like an unknown one), results paginated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.db.repositories import code as code_store
from app.errors import NotFound
from app.search.graph import queries

Question = Literal["definitions", "references", "callers", "callees"]
QUESTIONS: tuple[Question, ...] = ("definitions", "references", "callers", "callees")


@dataclass
class Page:
    repository: str
    question: Question
    answer: queries.GraphAnswer
    offset: int
    limit: int

    @property
    def items(self) -> list[queries.Symbol] | list[queries.Site]:
        every = self.answer.definitions if self.question == "definitions" else self.answer.sites
        return every[self.offset : self.offset + self.limit]

    @property
    def total(self) -> int:
        return len(self.answer.definitions if self.question == "definitions" else self.answer.sites)

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    def as_dict(self) -> dict[str, object]:
        lookup = self.answer.lookup
        return {
            "repository": self.repository,
            "symbol": lookup.symbol,
            "ambiguous": lookup.ambiguous and self.question != "definitions",
            "candidates": [symbol_dict(m) for m in lookup.matches],
            "items": [symbol_dict(e) if isinstance(e, queries.Symbol) else site_dict(e) for e in self.items],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": self.next_offset,
        }


def symbol_dict(symbol: queries.Symbol) -> dict[str, object]:
    return {
        "qualified": symbol.qualified,
        "name": symbol.name,
        "kind": symbol.kind,
        "path": symbol.path,
        "start_line": symbol.start_line,
        "end_line": symbol.end_line,
    }


def site_dict(site: queries.Site) -> dict[str, object]:
    return {
        "kind": site.kind,
        "name": site.name,
        "path": site.path,
        "line": site.line,
        "source": site.source,
        "target": site.target,
        "resolved": site.resolved is not None,
        "definition": symbol_dict(site.resolved) if site.resolved else None,
    }


async def team_repository_id(team_id: int, name: str) -> int:
    found = await code_store.repositories_named(team_id, [name])
    if not found:
        raise NotFound(f"no repository named {name!r}")
    return found[0].id


async def ask(
    question: Question, *, team_id: int, repository: str, symbol: str, offset: int = 0, limit: int = 50
) -> Page:
    repo_id = await team_repository_id(team_id, repository)
    answer = await getattr(queries, question)(repo_id, symbol)
    return Page(repository, question, answer, offset, limit)
