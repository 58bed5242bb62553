"""From a file's text to the rows the indexer stores with its chunks (in the same transaction)."""

from __future__ import annotations

from app.db.repositories.graph import FileGraphRows, ReferenceRow, SymbolRow
from app.search.graph.extract import extract


def file_graph_rows(path: str, text: str, language: str | None) -> FileGraphRows | None:
    """The file's symbol graph as rows; None for a file without a grammar. CPU work: run it off the loop."""
    graph = extract(path, text, language)
    if graph is None or language is None:
        return None
    return FileGraphRows(
        language,
        [SymbolRow(d.kind, d.name, d.qualified, d.start_line, d.end_line) for d in graph.definitions],
        [ReferenceRow(r.kind, r.name, r.short, r.target, r.source, r.line) for r in graph.references],
    )
