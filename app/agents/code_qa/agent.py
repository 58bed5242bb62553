"""Answers questions about code: explains, locates, reviews. Reads with tools; does not change files."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "code_qa",
    "Questions about the code: explain, find, review, compare, suggest.",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
    # search_sources is the answers retrieval: fused, reranked and numbered, so answers can cite [n].
    server_tools=("search_sources", "code_search", "code_graph", "scm_get_file", "scm_search_code"),
)
