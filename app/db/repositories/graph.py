"""The symbol graph's rows: written with a file's chunks, read by name, by enclosing definition and by place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise import connections

from app.db.models import Chunk, CodeReference, CodeSymbol

MAX_ROWS = 5000  # per lookup: a name used more often than this is answered from its first rows


@dataclass(frozen=True)
class SymbolRow:
    kind: str
    name: str
    qualified: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class ReferenceRow:
    kind: str
    name: str
    short: str
    target: str | None
    source: str
    line: int


@dataclass(frozen=True)
class FileGraphRows:
    language: str
    symbols: list[SymbolRow]
    references: list[ReferenceRow]


INSERT_SYMBOLS = (
    "INSERT INTO code_symbols (team_id, repository_id, file_id, path, language, kind, name, qualified, start_line, "
    "end_line) SELECT $1, $2, $3, $4, $5, * FROM unnest($6::text[], $7::text[], $8::text[], $9::int[], $10::int[])"
)
INSERT_REFERENCES = (
    "INSERT INTO code_references (team_id, repository_id, file_id, path, language, kind, name, short, target, "
    "source, line) SELECT $1, $2, $3, $4, $5, * FROM "
    "unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[])"
)


async def insert_file_graph(*, team_id: int, repo_id: int, file_id: int, path: str, graph: FileGraphRows) -> None:
    """Store one file's graph; the caller runs it in the transaction that (re)creates the file row, whose
    deletion cascades to these rows. One statement per table (arrays unnested): a file has hundreds of
    rows, and building a model object per row cost more than parsing the file."""
    connection = connections.get("default")  # the caller's transaction, when there is one
    head = [team_id, repo_id, file_id, path, graph.language]
    if graph.symbols:
        s = graph.symbols
        await connection.execute_query(
            INSERT_SYMBOLS,
            [
                *head,
                [r.kind for r in s],
                [r.name for r in s],
                [r.qualified for r in s],
                [r.start_line for r in s],
                [r.end_line for r in s],
            ],
        )
    if graph.references:
        r = graph.references
        await connection.execute_query(
            INSERT_REFERENCES,
            [
                *head,
                [x.kind for x in r],
                [x.name for x in r],
                [x.short for x in r],
                [x.target for x in r],
                [x.source for x in r],
                [x.line for x in r],
            ],
        )


async def symbols_named(repo_id: int, names: Sequence[str]) -> list[CodeSymbol]:
    if not names:
        return []
    return (
        await CodeSymbol.filter(repository_id=repo_id, name__in=sorted(set(names)))
        .order_by("path", "start_line")
        .limit(MAX_ROWS)
    )


async def symbols_in_file(repo_id: int, path: str) -> list[CodeSymbol]:
    return await CodeSymbol.filter(repository_id=repo_id, path=path).order_by("start_line")


async def references_named(repo_id: int, shorts: Sequence[str], kinds: Sequence[str]) -> list[CodeReference]:
    """References whose last name component is one of `shorts` (`x.save` and `save` for `save`)."""
    if not shorts:
        return []
    return (
        await CodeReference.filter(repository_id=repo_id, short__in=sorted(set(shorts)), kind__in=list(kinds))
        .order_by("path", "line", "id")
        .limit(MAX_ROWS)
    )


async def references_from(repo_id: int, sources: Sequence[str], kinds: Sequence[str]) -> list[CodeReference]:
    if not sources:
        return []
    return (
        await CodeReference.filter(repository_id=repo_id, source__in=sorted(set(sources)), kind__in=list(kinds))
        .order_by("path", "line", "id")
        .limit(MAX_ROWS)
    )


async def team_chunks(team_id: int, chunk_ids: Sequence[int]) -> list[Chunk]:
    """The chunks among `chunk_ids` that the team owns (others are skipped, as if unknown)."""
    if not chunk_ids:
        return []
    return await Chunk.filter(team_id=team_id, id__in=list(chunk_ids)).order_by("id")


async def chunks_in_files(repo_id: int, paths: Sequence[str]) -> list[Chunk]:
    if not paths:
        return []
    return await Chunk.filter(repository_id=repo_id, path__in=sorted(set(paths))).order_by("path", "start_line")
