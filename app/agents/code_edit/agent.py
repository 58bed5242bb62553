"""Makes changes: implements, fixes, refactors, writes tests, with the file-editing tools."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "code_edit",
    "Change the code: implement a feature, fix a bug, refactor, write tests or files.",
    Path(__file__).with_name("prompt.md"),
    may_write=True,
)
