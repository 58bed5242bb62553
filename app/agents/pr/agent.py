"""A pull request by URL or number: what it changes, its risks, answers about it; reads the PR through the
SCM tools and the linked tickets through the tracker tools."""

from pathlib import Path

from app.agents.base import Agent

AGENT = Agent(
    "pr",
    "A pull/merge request by URL or number: summary, risks, review questions.",
    Path(__file__).with_name("prompt.md"),
    may_write=False,
    server_tools=(
        "scm_get_pull_request",
        "scm_list_pull_requests",
        "scm_get_file",
        "scm_list_commits",
        "scm_search_code",
        "code_search",
        "jira_get_issue",
        "linear_get_issue",
    ),
    client_tools=True,
    requires=("github", "gitlab", "bitbucket"),
    step_budget=10,
)
