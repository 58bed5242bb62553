"""Questions answered from the team's documentation: Confluence pages and indexed docs, cited by URL."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "docs",
    "Questions answered from the team's documentation (Confluence pages, indexed docs), with links.",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
    server_tools=("confluence_search", "confluence_get_page", "code_search", "jira_get_issue", "linear_get_issue"),
    client_tools=False,
    requires=("confluence",),
    step_budget=8,
)
