"""`adjutant knowledge`: import Q&A and documentation into a team's knowledge store (run here, with progress),
list the team's sources and recent imports, and search them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.cli.admin import run_on_database
from app.cli.common import ConfigOption, DataDirOption, console, fail, out, settings_from_cli
from app.db.repositories.identity import get_or_create_team, team_named
from app.errors import AdjutantError
from app.knowledge import knowledge_search
from app.knowledge.imports import describe_import, describe_source, knowledge_imports
from app.knowledge.ingest import ImportStats
from app.knowledge.specs import ImportSpec
from app.runtime.settings import Settings
from app.search.service import SearchService

knowledge_app = typer.Typer(help="The team's knowledge: Q&A and documentation for answers.", no_args_is_help=True)
import_app = typer.Typer(help="Import a source (run here; the same source again updates what changed).")
knowledge_app.add_typer(import_app, name="import")

TeamOption = Annotated[str, typer.Option(help="The team that owns the knowledge.")]
NameOption = Annotated[str | None, typer.Option(help="The source's name (default: derived from what it reads).")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="Questions with all these tags (repeatable).")]
MinScore = Annotated[int | None, typer.Option(help="Lowest question score.")]
FromDate = Annotated[str | None, typer.Option(help="Questions asked on or after this day (YYYY-MM-DD).")]
ToDate = Annotated[str | None, typer.Option(help="Questions asked on or before this day (YYYY-MM-DD).")]
Answers = Annotated[int, typer.Option(help="Answers per question: the accepted one, then the best others.")]
MinAnswerScore = Annotated[int, typer.Option(help="Other answers below this score are skipped.")]
Repository = Annotated[str | None, typer.Option(help="An indexed repository of the team (its folder).")]
LinkBase = Annotated[str | None, typer.Option(help="Links are this URL plus each file's path.")]
SPEC = TypeAdapter(ImportSpec)


def _import(spec: dict[str, Any], team: str, data_dir: Path | None, config: Path | None) -> None:
    try:
        parsed = SPEC.validate_python({k: v for k, v in spec.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'input'}: {e['msg']}" for e in exc.errors())
        raise fail(problems) from None
    settings = settings_from_cli(data_dir, config)
    imports = knowledge_imports(settings, SearchService(settings))
    columns = (SpinnerColumn(), TextColumn("[bold]importing[/] {task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("import", total=None, detail="")

        def show(stats: ImportStats) -> None:
            bar.update(
                task,
                detail=f"{stats.seen} items: {stats.created} new, {stats.updated} changed, "
                f"{stats.unchanged} unchanged; {stats.chunks} chunks, {stats.embedded} embedded",
            )

        async def run() -> tuple[dict[str, Any], ImportStats | None]:
            owner = await get_or_create_team(team)
            row, _ = await imports.request(owner.id, None, parsed, local=True, enqueue=False)
            try:
                stats = await imports.run(row.id, on_progress=show)
            except Exception:  # noqa: BLE001 - whatever it was is recorded on the run's row, shown below
                stats = None
            run_row, source = await imports.get(owner.id, row.id)
            return describe_import(run_row, source), stats

        try:
            view, stats = run_on_database(settings, run)
        except AdjutantError as exc:
            raise fail(exc.detail) from None
    if stats is None:
        raise fail(f"import failed: {view['error']}", 1)
    source = view["source"] or {}
    failed = view["progress"].get("failed") or []
    out.print(
        f"{source.get('name')}: {stats.seen} items ({stats.created} new, {stats.updated} changed, "
        f"{stats.unchanged} unchanged, {stats.pruned} removed); {source.get('document_count')} documents, "
        f"{source.get('chunk_count')} chunks in the source"
    )
    for failure in failed:
        out.print(f"  [yellow]skipped[/] {failure['url']}: {failure['error']}")


@import_app.command("stackexchange")
def import_stackexchange(
    tag: Tags = None,
    site: Annotated[str, typer.Option(help="The Stack Exchange site.")] = "stackoverflow",
    min_score: MinScore = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    max_questions: Annotated[int, typer.Option(help="Questions to read, best voted first.")] = 200,
    answers_per_question: Answers = 3,
    min_answer_score: MinAnswerScore = 1,
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Questions and their accepted and best answers from the Stack Exchange API (knowledge.stackexchange_*)."""
    spec = {
        "kind": "stackexchange",
        "site": site,
        "tags": tag or [],
        "min_score": min_score,
        "from_date": from_date,
        "to_date": to_date,
        "max_questions": max_questions,
        "answers_per_question": answers_per_question,
        "min_answer_score": min_answer_score,
        "name": name,
    }
    _import(spec, team, data_dir, config)


@import_app.command("dump")
def import_dump(
    path: Annotated[Path, typer.Argument(help="Posts.xml of a Stack Exchange data dump.", exists=True, dir_okay=False)],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Questions with any of these tags.")] = None,
    min_score: MinScore = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    answers_per_question: Answers = 3,
    min_answer_score: MinAnswerScore = 1,
    site_url: Annotated[str, typer.Option(help="The site the dump is of (for links).")] = "https://stackoverflow.com",
    site_name: Annotated[str, typer.Option(help="Its name (for the credit line).")] = "Stack Overflow",
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Questions and answers from a data dump's Posts.xml, read as a stream."""
    spec = {
        "kind": "dump",
        "path": str(path.resolve()),
        "tags": tag or [],
        "min_score": min_score,
        "from_date": from_date,
        "to_date": to_date,
        "answers_per_question": answers_per_question,
        "min_answer_score": min_answer_score,
        "site_url": site_url,
        "site_name": site_name,
        "name": name,
    }
    _import(spec, team, data_dir, config)


def _folder(kind: str, path: Path | None, repository: str | None, link_base: str | None, name: str | None) -> dict:
    if path is None and repository is None:
        raise fail("give a folder, or --repository (and optionally a folder inside it)")
    raw = None if path is None else (str(path) if repository else str(path.resolve()))
    return {"kind": kind, "path": raw, "repository": repository, "link_base": link_base, "name": name}


@import_app.command("docs")
def import_docs(
    path: Annotated[Path | None, typer.Argument(help="A folder (inside --repository when given).")] = None,
    repository: Repository = None,
    link_base: LinkBase = None,
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Markdown and reStructuredText pages of a docs folder."""
    _import(_folder("docs", path, repository, link_base, name), team, data_dir, config)


@import_app.command("faq")
def import_faq(
    path: Annotated[Path | None, typer.Argument(help="A folder (inside --repository when given).")] = None,
    repository: Repository = None,
    link_base: LinkBase = None,
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """A Markdown FAQ folder: every heading with text under it is a question, the text its answer."""
    _import(_folder("faq", path, repository, link_base, name), team, data_dir, config)


@import_app.command("urls")
def import_urls(
    urls: Annotated[list[str], typer.Argument(help="Pages to fetch once (http or https).")],
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Documentation pages fetched once, as text (public addresses or integrations.allowed_hosts only)."""
    _import({"kind": "urls", "urls": urls, "name": name}, team, data_dir, config)


@import_app.command("confluence")
def import_confluence(
    connection: Annotated[str, typer.Option(help="A Confluence connection of the team.")],
    space: Annotated[str, typer.Option(help="The space key.")],
    max_pages: Annotated[int, typer.Option(help="Pages to read (at most 200).")] = 200,
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The pages of a Confluence space, as Markdown."""
    spec = {"kind": "confluence", "connection": connection, "space": space, "max_pages": max_pages, "name": name}
    _import(spec, team, data_dir, config)


@import_app.command("discussions")
def import_discussions(
    connection: Annotated[str, typer.Option(help="A GitHub connection of the team.")],
    repo: Annotated[str, typer.Option(help="owner/name")],
    all_discussions: Annotated[bool, typer.Option("--all", help="Also discussions without a chosen answer.")] = False,
    max_discussions: Annotated[int, typer.Option(help="Discussions to read, newest first.")] = 500,
    name: NameOption = None,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Q&A from a repository's GitHub Discussions: each discussion with its chosen answer."""
    spec = {
        "kind": "discussions",
        "connection": connection,
        "repo": repo,
        "answered_only": not all_discussions,
        "max_discussions": max_discussions,
        "name": name,
    }
    _import(spec, team, data_dir, config)


def _team_id(team: str) -> Any:
    async def find() -> int:
        owner = await team_named(team)
        if owner is None:
            raise fail(f"no team named {team!r}")
        return owner.id

    return find


@knowledge_app.command("list")
def list_sources(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The team's knowledge sources and their recent imports."""
    settings = settings_from_cli(data_dir, config)
    imports = knowledge_imports(settings, SearchService(settings))

    async def run() -> tuple[list, list]:
        team_id = await _team_id(team)()
        sources = [describe_source(s) for s in await imports.sources(team_id)]
        runs = [describe_import(r, s) for r, s in await imports.recent(team_id, limit=10)]
        return sources, runs

    sources, runs = run_on_database(settings, run)
    if as_json:
        print(json.dumps({"sources": sources, "imports": runs}, indent=2))
        return
    if not sources:
        out.print("no knowledge sources (adjutant knowledge import --help)")
        return
    for source in sources:
        out.print(
            f"[bold]{source['name']}[/] ({source['kind']}): {source['document_count']} documents, "
            f"{source['chunk_count']} chunks, last imported {source['last_imported_at'] or 'never'}"
        )
    for run_view in runs:
        name = (run_view["source"] or {}).get("name")
        out.print(f"  import {run_view['id']} of {name}: {run_view['status']} {run_view['error'] or ''}")


@knowledge_app.command("search")
def search_knowledge(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    kind: Annotated[list[str] | None, typer.Option(help="doc, qa or qa_code (repeatable; default all).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=50, help="Number of results.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Search the team's knowledge: ranked chunks with their links and credit."""
    settings: Settings = settings_from_cli(data_dir, config)
    engine = knowledge_search(settings)

    async def run() -> list:
        return await engine.search(await _team_id(team)(), query, kinds=kind, limit=limit)

    hits = run_on_database(settings, run)
    if as_json:
        print(json.dumps([h.as_dict() for h in hits], indent=2))
        return
    if not hits:
        out.print("no results")
    for rank, hit in enumerate(hits, 1):
        where = f" — {hit.section}" if hit.section else ""
        out.print(f"[bold]{rank}. {hit.title}{where}[/] [dim]{hit.kind} · {hit.source} · {hit.score:.4f}[/]")
        if hit.url:
            out.print(f"   {hit.url}")
        out.print("   " + "\n   ".join(hit.text.splitlines()[:6]))
        if hit.attribution:
            out.print(f"   [dim]{hit.attribution['text']}[/]")
