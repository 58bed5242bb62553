"""Which integration tools a step is offered, and how their inputs, outputs and failures look to the model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.errors import IntegrationRateLimited, IntegrationRejected
from app.tools.client_tools import ToolFlags
from app.tools.integration_tools import (
    ConfluenceGetPage,
    IntegrationTools,
    JiraGetIssue,
    ScmGetPullRequest,
    bound,
    explicitly_asks_to_write,
    parse_pull_request_url,
    tool_failure,
)
from app.tools.server_tools import ServerToolRegistry


@pytest.fixture
def registry() -> ServerToolRegistry:
    registry = ServerToolRegistry()
    for tool in IntegrationTools(connections=None, max_output_chars=1000).tools():  # type: ignore[arg-type]
        registry.register(tool)
    return registry


def names(tools) -> set[str]:
    return {t.name for t in tools}


def test_tools_are_offered_only_for_connected_services_and_the_agents_list(registry):
    flags = ToolFlags()
    assert names(registry.offered(flags)) == set(), "no connection, no integration tool"
    jira = names(registry.offered(flags, connected=frozenset({"jira"})))
    assert jira == {"jira_get_issue", "jira_search"}, "writes are not offered without an explicit request"
    both = names(
        registry.offered(flags, connected=frozenset({"jira", "gitlab"}), names=("jira_search", "scm_get_file"))
    )
    assert both == {"jira_search", "scm_get_file"}
    writes = names(registry.offered(flags, connected=frozenset({"jira"}), allow_writes=True))
    assert {"jira_create_issue", "jira_add_comment"} <= writes


def test_explicit_write_requests_are_recognised():
    assert explicitly_asks_to_write("please create a ticket for this bug in PAY")
    assert explicitly_asks_to_write("add a comment to PAY-12 saying it is fixed")
    assert explicitly_asks_to_write("comment on ENG-4 that we shipped")
    assert not explicitly_asks_to_write("what is the status of PAY-12?")
    assert not explicitly_asks_to_write("summarise the comments on PAY-12")


def test_schemas_are_generated_and_inputs_validated(registry):
    spec = registry.tools["jira_get_issue"].spec()
    assert spec.name == "jira_get_issue" and "key" in str(spec.input_schema)
    with pytest.raises(ValidationError):
        JiraGetIssue(key="not a key")
    with pytest.raises(ValidationError):
        ConfluenceGetPage(space="ENG")  # needs a title or an id
    with pytest.raises(ValidationError):
        ScmGetPullRequest(repo="acme/shop")  # needs a number or a URL


def test_pull_request_urls_of_each_scm_are_understood():
    assert parse_pull_request_url("https://github.com/acme/shop/pull/17/files") == ("github.com", "acme/shop", 17)
    assert parse_pull_request_url("https://gitlab.example.com/g/sub/proj/-/merge_requests/5") == (
        "gitlab.example.com",
        "g/sub/proj",
        5,
    )
    assert parse_pull_request_url("https://bitbucket.org/ws/repo/pull-requests/9") == ("bitbucket.org", "ws/repo", 9)
    with pytest.raises(IntegrationRejected):
        parse_pull_request_url("https://github.com/acme/shop/issues/3")


def test_failures_read_as_typed_reasons_and_outputs_are_bounded():
    text = tool_failure(IntegrationRateLimited("jira rate limit reached", retry_after=41.6, service="jira"))
    assert text.startswith("ERROR (rate_limited): jira rate limit reached") and "Retry after 42 s" in text
    assert bound("x" * 50, 20).startswith("x" * 20) and "cut at 20 characters" in bound("x" * 50, 20)
    assert bound("short", 20) == "short"
