"""The chat command "/release-notes v1.2.0..HEAD": only the command chooses the release-notes agent, and its
server tool describes a range of one of the caller team's indexed repositories, never another team's."""

from __future__ import annotations

from app.agents.base import AgentInput
from app.agents.selector import select_agent
from app.db.models import Repository, Team
from app.releases.tool import ReleaseNotesInput, parse_range, release_notes_tool
from app.search.service import SearchService
from app.tools.server_tools import ToolContext


async def never(query, agents):
    raise AssertionError("the model must not be asked")


async def test_only_the_command_selects_the_release_notes_agent():
    chosen = await select_agent(AgentInput(query="/release-notes v1.2.0..HEAD"), never)
    assert (chosen.agent.name, chosen.by, chosen.query) == ("release_notes", "explicit", "v1.2.0..HEAD")
    asked = await select_agent(AgentInput(query="what are release notes for?"), never)
    assert asked.agent.name == "code_qa"


def test_a_range_is_read_as_the_command_writes_it():
    assert parse_range("v1.2.0..HEAD") == ("v1.2.0", "HEAD")
    assert parse_range("v1.3.0") == (None, "v1.3.0")
    assert parse_range("v1.2.0..") == ("v1.2.0", "HEAD")
    assert parse_range("v1.2.0...v1.3.0") == ("v1.2.0", "v1.3.0")


async def test_the_tool_describes_the_teams_repository_and_no_other(app_repo, db, settings):
    repo, _ = app_repo
    ours, theirs = await Team.create(name="ours"), await Team.create(name="theirs")
    await Repository.create(team=ours, name="app", source=str(repo.path), source_kind="local", status="READY")
    tool = release_notes_tool(SearchService(settings), settings)

    async def ask(team: Team, **arguments) -> str:
        return await tool.run(ReleaseNotesInput(**arguments), ToolContext(1, team.id, 1, None))

    both = await ask(ours, range="v0.1.0..v0.2.0")
    assert both.startswith("Repository app, range v0.1.0..v0.2.0: 11 changes, 2 breaking, 6 left out.")
    assert "External notes:" in both and "- Dark mode (#9)" in both and "Internal notes:" in both
    since = await ask(ours, range="v0.3.0", audience="external")
    assert "range v0.2.0..v0.3.0" in since and "No user-facing changes" in since and "Internal notes" not in since
    refused = await ask(ours, range="v0.1.0..nope")
    assert refused == "The range cannot be described: the repository has no commit 'nope'"
    assert (
        await ask(theirs, range="v0.1.0..v0.2.0") == "Name one of the team's indexed repositories (repository): none."
    )
    assert "Name one" in await ask(ours, range="v0.1.0..v0.2.0", repository="other")
