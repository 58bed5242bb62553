"""`adjutant index` and `adjutant search`: code search from the command line."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.admin import run_on_database
from app.cli.common import ConfigOption, DataDirOption, console, fail, out, settings_from_cli

if TYPE_CHECKING:
    from app.search.indexer import Progress as IndexProgress

# The search stack (ONNX Runtime, numpy, tree-sitter) and the ORM are imported inside the commands, so
# `--help` is quick and `search` never loads the indexer.

TeamOption = Annotated[str, typer.Option(help="The team that owns the index.")]


def index(
    path: Annotated[Path, typer.Argument(help="The working copy to index.", exists=True, file_okay=False)],
    name: Annotated[str | None, typer.Option(help="Index name (default: the directory name).")] = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Index a repository for code search; unchanged files are skipped on later runs."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from app.db.repositories.identity import get_or_create_team
    from app.search.service import SearchService

    settings = settings_from_cli(data_dir, config)
    service = SearchService(settings)
    repo_name = name or path.resolve().name
    # Fits 80 columns: files done/total, then chunks stored and embeddings computed, elapsed and ETA.
    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn("files {task.fields[detail]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(repo_name, total=None, detail="(scanning)")

        def show(progress: IndexProgress) -> None:
            bar.update(
                task,
                total=progress.files_total or None,
                completed=progress.files_done,
                detail=f"{progress.chunks} chunks {progress.embedded} embedded",
            )

        async def run() -> object:
            owner = await get_or_create_team(team)
            return await service.index_path(path, team_id=owner.id, name=repo_name, on_progress=show)

        report = run_on_database(settings, run)
    out.print(
        f"{repo_name}: {report.files} files, {report.chunks} chunks; {report.changed} changed, "
        f"{report.deleted} deleted, {report.embedded} embedded, {report.reused} reused, in {report.seconds:.1f} s"
    )


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in words or identifiers.")],
    repo: Annotated[list[str] | None, typer.Option(help="Search only this index (repeatable).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=200, help="Number of results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, fts or vector.")] = "hybrid",
    path_prefix: Annotated[str | None, typer.Option(help="Only paths starting with this.")] = None,
    language: Annotated[str | None, typer.Option(help="Only this language (python, go, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Search indexed code: ranked chunks with paths and line ranges."""
    if mode not in ("hybrid", "fts", "vector"):
        raise fail("--mode must be hybrid, fts or vector")
    settings = settings_from_cli(data_dir, config)
    if mode != "fts" and settings.search.embedding_provider == "local":
        from app.search.embeddings import preload_local_embedder

        # The model loads (~0.3 s, mostly off the GIL) while the ORM is imported and the database opened.
        preload_local_embedder(settings.search.embedding_threads, settings.search.embedding_batch_size)

    from app.db.repositories.identity import team_named
    from app.search.service import SearchService

    service = SearchService(settings)

    async def run() -> tuple[list, dict]:
        owner = await team_named(team)
        if owner is None:
            raise fail(f"no team named {team!r}; index something first (adjutant index PATH --team {team})")
        return await service.search(
            query,
            team_id=owner.id,
            repos=repo,
            top_k=top_k,
            mode=mode,  # type: ignore[arg-type]
            path_prefix=path_prefix,
            language=language,
            rerank=False,  # the CLI runs no model router
        )

    hits, names = run_on_database(settings, partial(run))
    if as_json:
        print(json.dumps([hit.as_dict(names.get(hit.repository_id)) for hit in hits], indent=2))
        return
    if not hits:
        out.print("no results")
        return
    for rank, hit in enumerate(hits, 1):
        where = " > ".join(h.get("value", "") for h in hit.hierarchy)
        out.print(
            f"[bold]{rank}. {names.get(hit.repository_id)}:{hit.denotation}[/]  {where}  "
            f"[dim]score {hit.score:.4f} {hit.ranks}[/]"
        )
        print_preview(hit.text.splitlines()[:12], hit.language, hit.start_line)


def print_preview(lines: list[str], language: str | None, start_line: int) -> None:
    """A hit's first lines, numbered; highlighted only on a terminal, where the colours are seen (loading
    the lexer costs ~0.1 s, and piped output would drop the colours anyway)."""
    if out.is_terminal:
        from rich.syntax import Syntax

        out.print(Syntax("\n".join(lines), language or "text", start_line=start_line, line_numbers=True))
        return
    width = len(str(start_line + len(lines) - 1))
    for number, line in enumerate(lines, start_line):
        out.print(f"  {number:>{width}} {line}", markup=False, highlight=False)
