"""The `release_notes` server tool: deterministic release notes of a range of one of the team's indexed
repositories, for the chat command "/release-notes v1.2.0..HEAD". It reads history and writes nothing."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.db.repositories import code as code_store
from app.errors import AdjutantError
from app.releases.service import RangeRequest, generate
from app.releases.sources import history_of
from app.runtime.settings import Settings
from app.search.service import SearchService
from app.tools.results import cap
from app.tools.server_tools import ServerTool, ToolContext

MAX_TOKENS = 6_000


class ReleaseNotesInput(BaseModel):
    range: str = Field(
        min_length=1,
        max_length=420,
        description="A..B (A excluded), or one ref B for the changes since the last release tag before it.",
    )
    repository: str | None = Field(default=None, max_length=200, description="Indexed repository name.")
    path: str | None = Field(default=None, max_length=500, description="Only commits touching files under it.")
    tag_pattern: str | None = Field(default=None, max_length=100, description="Release tags, e.g. api-v*.")
    audience: Literal["internal", "external", "both"] = "both"


def parse_range(text: str) -> tuple[str | None, str]:
    start, dots, end = text.strip().partition("..")
    if not dots:
        return None, start
    return (start or None), (end.lstrip(".") or "HEAD")


def release_notes_tool(search: SearchService, settings: Settings) -> ServerTool:
    async def run(arguments: BaseModel, context: ToolContext) -> str:
        assert isinstance(arguments, ReleaseNotesInput)
        repositories = await code_store.list_repositories(context.team_id)
        if arguments.repository:
            repositories = [r for r in repositories if r.name == arguments.repository]
        if len(repositories) != 1:
            names = ", ".join(r.name for r in await code_store.list_repositories(context.team_id)) or "none"
            return f"Name one of the team's indexed repositories (repository): {names}."
        repo = repositories[0]
        start, end = parse_range(arguments.range)
        request = RangeRequest(start, end, arguments.path, arguments.tag_pattern)
        try:
            history = await history_of(repo, search, timeout_s=settings.release_notes.git_timeout_s)
            notes = await generate(history, request, name=repo.name)
        except AdjutantError as exc:
            return f"The range cannot be described: {exc.detail}"
        facts = notes.facts
        parts = [
            f"Repository {repo.name}, range {facts.range.from_ref or 'first commit'}..{facts.range.to_ref}: "
            f"{len(facts.changes)} changes, {len(facts.breaking)} breaking, {len(facts.dropped)} left out."
        ]
        if arguments.audience in ("external", "both"):
            parts.append("External notes:\n\n" + notes.external)
        if arguments.audience in ("internal", "both"):
            parts.append("Internal notes:\n\n" + notes.internal)
        return cap("\n\n".join(parts), MAX_TOKENS)

    return ServerTool(
        name="release_notes",
        description="Release notes of a range of one of the team's indexed repositories, from its git history: "
        "internal and external variants with every change's reference, breaking changes and contributors.",
        model=ReleaseNotesInput,
        run=run,
    )
