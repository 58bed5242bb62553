"""`adjutant release-notes PATH|URL`: release notes of a range of a local repository (or of a git URL, cloned
into a temporary directory), printed as Markdown or JSON. No server and no database are needed; without a
usable model (or with --no-llm) the notes are the deterministic ones."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from app.cli.common import ConfigOption, DataDirOption, console, fail, run_async, settings_from_cli
from app.errors import AdjutantError
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.releases.git import GitRepository
from app.releases.model import release_model
from app.releases.service import ModelUse, RangeRequest, ReleaseNotes, generate
from app.runtime.settings import Settings

URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")


def release_notes(
    source: Annotated[str, typer.Argument(help="A local repository's directory, or a git URL to clone.")],
    from_ref: Annotated[
        str | None, typer.Option("--from", help="Start of the range (excluded); default: the last release tag.")
    ] = None,
    to_ref: Annotated[str, typer.Option("--to", help="End of the range (included).")] = "HEAD",
    path: Annotated[str | None, typer.Option("--path", help="Only commits touching files under this path.")] = None,
    tag_pattern: Annotated[
        str | None, typer.Option("--tag-pattern", help="Release tags to look for, e.g. 'api-v*'.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="The version to name (default: the --to tag).")
    ] = None,
    audience: Annotated[
        Literal["internal", "external", "both"], typer.Option("--audience", help="Which notes to print.")
    ] = "both",
    output: Annotated[Literal["md", "json"], typer.Option("--format", help="Markdown, or JSON with the facts.")] = "md",
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Never call a model: deterministic notes only.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write release notes for a range of a repository's history."""
    settings = settings_from_cli(data_dir, config)
    request = RangeRequest(from_ref=from_ref, to_ref=to_ref, path=path, tag_pattern=tag_pattern, version=version)
    try:
        notes = run_async(lambda: _generate(settings, source, request, use_model=not no_llm))
    except AdjutantError as exc:
        raise fail(exc.detail) from None
    if output == "json":
        data = notes.to_json()
        if audience != "both":
            data.pop("internal" if audience == "external" else "external")
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if notes.polish_reason:
        console.print(f"[dim]kept the deterministic external notes: {notes.polish_reason}[/]", markup=True)
    shown = (
        [notes.internal]
        if audience == "internal"
        else [notes.external]
        if audience == "external"
        else [
            notes.internal,
            notes.external,
        ]
    )
    typer.echo("\n---\n\n".join(shown), nl=False)


async def _generate(settings: Settings, source: str, request: RangeRequest, *, use_model: bool) -> ReleaseNotes:
    timeout = settings.release_notes.git_timeout_s
    pool = None
    model = None
    if use_model:
        registry = ModelRegistry(settings.llm, settings.providers)
        pool = ProviderPool(settings.providers, settings.llm.router)
        found = release_model(settings, registry, LLMRouter(registry, pool, settings.llm.router))
        if found is None:
            console.print("[dim]no usable model: writing the deterministic notes[/]", markup=True)
        else:
            section = settings.release_notes
            model = ModelUse(found.ask, found.name, classify=section.classify_with_model, polish=section.polish)
    try:
        if source.startswith(URL_SCHEMES) or source.startswith("git@"):
            with tempfile.TemporaryDirectory(prefix="adjutant-release-") as scratch:
                checkout = Path(scratch) / "repo.git"
                with console.status(f"Cloning {source}…"):
                    _clone(source, checkout, timeout)
                name = source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repository"
                return await generate(GitRepository(checkout, timeout_s=timeout), request, name=name, model=model)
        root = Path(source).expanduser().resolve()
        return await generate(GitRepository(root, timeout_s=timeout), request, name=root.name, model=model)
    finally:
        if pool is not None:
            await pool.aclose()


def _clone(url: str, target: Path, timeout_s: float) -> None:
    """A full bare clone with the user's own git setup (this is their machine and their credentials)."""
    try:
        # The URL follows "--"; git is found on the user's PATH like any command they run.
        done = subprocess.run(  # noqa: S603
            ["git", "clone", "--bare", "--quiet", "--", url, str(target)],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise fail(f"cloning {url} took longer than {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise fail(f"git could not clone {url}: {done.stderr.strip()[-300:]}")
