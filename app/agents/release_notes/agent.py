"""Release notes in chat ("/release-notes v1.2.0..HEAD"): the notes of a range of one of the team's indexed
repositories, from the `release_notes` tool's checked facts. Chosen only by its command."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "release_notes",
    "Release notes of a range of an indexed repository (/release-notes v1.2.0..HEAD).",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
    server_tools=("release_notes", "code_search"),
    client_tools=False,
    step_budget=4,
)
