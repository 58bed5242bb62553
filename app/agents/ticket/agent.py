"""Questions about work items in Jira or Linear: status, summaries, searches (natural language to JQL); it
creates or comments only when the user explicitly asks (the write tools are offered only then)."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "ticket",
    "Jira/Linear tickets: status, summaries, finding issues, creating or commenting when explicitly asked.",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
    server_tools=(
        "jira_get_issue",
        "jira_search",
        "linear_get_issue",
        "linear_search",
        "confluence_search",
        "confluence_get_page",
        "jira_create_issue",
        "jira_add_comment",
        "linear_add_comment",
    ),
    client_tools=False,
    requires=("jira", "linear"),
    step_budget=8,
)
