"""Answers questions about code: explains, locates, reviews. Reads with tools; does not change files."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "code_qa",
    "Questions about the code: explain, find, review, compare, suggest.",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
)
