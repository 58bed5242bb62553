"""Integrations end to end on a real `adjutant serve`: a team connects (fake) GitHub, Jira and Confluence from
the CLI, `integrations test` passes for each, and a chat question naming a ticket and a Confluence page is
answered by the docs agent through the server tools, with both calls in history. Secrets stay out of the
CLI's output, the server's log and the database."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys

import asyncpg
import pytest

from tests.contract.conftest import ROOT, create_database, prepare
from tests.fakes.confluence_server import API_TOKEN as CONFLUENCE_TOKEN
from tests.fakes.confluence_server import EMAIL as CONFLUENCE_EMAIL
from tests.fakes.confluence_server import FakeConfluence
from tests.fakes.github_server import FakeGitHub
from tests.fakes.jira_server import API_TOKEN as JIRA_TOKEN
from tests.fakes.jira_server import EMAIL as JIRA_EMAIL
from tests.fakes.jira_server import FakeIssue, FakeJira, adf

GITHUB_TOKEN = "ghp_fake0123456789abcdefTOKEN"  # FakeGitHub's default
SECRET_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(scope="module")
def fakes():
    with FakeGitHub() as github, FakeJira() as jira, FakeConfluence() as confluence:
        jira.add_issue(
            FakeIssue(
                "ENG-7",
                "Roll back a failed deploy in one command",
                status="In Progress",
                description=adf("Ops need a single rollback command.", "Acceptance criteria: rollback under 2 minutes"),
            )
        )
        page = confluence.add_page(
            "ENG", "Rollback runbook", "<h1>Rollback</h1><p>Run <code>deploy rollback --to previous</code>.</p>"
        )
        yield github, jira, confluence, page


@pytest.fixture(scope="module")
def deployment(servers, tmp_path_factory, request):
    workdir = tmp_path_factory.mktemp("integrations")
    name = f"contract_int_{os.getpid()}"
    database_url = asyncio.run(create_database(servers, name))
    overrides = {
        "ADJUTANT_SECRETS__KEYS": SECRET_KEYS,
        "ADJUTANT_INTEGRATIONS__ALLOWED_HOSTS": '["127.0.0.1"]',
        "ADJUTANT_CHAT__STEP_CAP": "4",
        "ADJUTANT_INTEGRATIONS__KINDS_CACHE_S": "0.5",
    }
    deployment = prepare(workdir, database_url, servers.redis_url, f"int{os.getpid() % 10**6}:", **overrides)
    deployment.tokens["ada"] = deployment.issue_token("ada@example.com")
    deployment.tokens["eve"] = deployment.issue_token("eve@example.com")
    deployment.start_server()
    try:
        yield deployment
    finally:
        deployment.stop()


def adjutant(deployment, *args: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**deployment.env, "COLUMNS": "200"}
    if secret is not None:
        env["SERVICE_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_connect_from_the_cli_then_a_chat_is_answered_through_jira_and_confluence(deployment, fakes):
    github, jira, confluence, page = fakes
    added = [
        adjutant(deployment, "integrations", "add", "github", "--name", "gh", "--base-url", github.url,
                 "--secret-env", "SERVICE_SECRET", "--team", "core", secret=GITHUB_TOKEN),
        adjutant(deployment, "integrations", "add", "jira", "--name", "jira", "--base-url", jira.url,
                 "--email", JIRA_EMAIL, "--secret-env", "SERVICE_SECRET", "--team", "core", secret=JIRA_TOKEN),
        adjutant(deployment, "integrations", "add", "confluence", "--name", "wiki", "--base-url", confluence.base,
                 "--email", CONFLUENCE_EMAIL, "--secret-env", "SERVICE_SECRET", "--team", "core",
                 secret=CONFLUENCE_TOKEN),
    ]  # fmt: skip
    for result in added:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "connected" in result.stdout and "webhook path: /v1/webhooks/" in result.stdout
    for name, login in (("gh", "octocat"), ("jira", "Jira Bot"), ("wiki", "")):
        tested = adjutant(deployment, "integrations", "test", name, "--team", "core")
        assert tested.returncode == 0 and tested.stdout.startswith("ok:"), tested.stdout + tested.stderr
        assert login in tested.stdout and "scopes:" in tested.stdout
    listed = adjutant(deployment, "integrations", "list", "--team", "core", "--json")
    assert sorted(c["name"] for c in json.loads(listed.stdout)) == ["gh", "jira", "wiki"]
    assert all(c["last_test"]["ok"] for c in json.loads(listed.stdout))

    assert confluence.seen("GET", "/user/current") and jira.seen("GET", "/myself")
    page_url = f"{confluence.base}/spaces/ENG/pages/{page.id}/Rollback+runbook"
    deployment.script(
        {
            "tool_calls": [
                {"name": "jira_get_issue", "input": {"key": "ENG-7"}},
                {"name": "confluence_search", "input": {"cql": 'type = page AND text ~ "rollback"'}},
            ]
        },
        {"text": "ENG-7 asks for a one-command rollback; the runbook says `deploy rollback --to previous`."},
    )
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": f"Does ENG-7 match what {page_url} says?"})
    assert turn.compact() == ["SS", "SI", "RM", "T", "TC", "QC", "SECC"], "server tools need no client round trip"
    first, second = deployment.model_calls()[:2]
    assert {"jira_get_issue", "confluence_search", "confluence_get_page"} <= set(first["tools"])
    assert "read_file" not in first["tools"], "the docs agent is offered no IDE tools"
    assert "jira_create_issue" not in first["tools"], "nothing that writes without an explicit request"
    assert "documentation" in json.dumps(first["messages"][0]), "the docs agent's prompt"
    results = [m for m in second["messages"] if m["role"] == "tool"]
    texts = [part["content"][0]["text"] for m in results for part in m["parts"]]
    issue_text = next(t for t in texts if "ENG-7" in t)
    assert f"URL: {jira.url}/browse/ENG-7" in issue_text and "In Progress" in issue_text
    assert "rollback under 2 minutes" in issue_text
    search_text = next(t for t in texts if "Rollback runbook" in t)
    assert f"id {page.id}" in search_text and "http" in search_text

    session_id = turn.of("RESPONSE_METADATA")[0]["data"]["content"]["session_id"]
    chats = await client.chats(session_id)
    tools = [c["message_data"] for c in chats if c["message_data"].get("message_type") == "TOOL_USE"]
    assert [t["tool_name"] for t in tools] == ["jira_get_issue", "confluence_search"]
    assert all(t["tool_status"] == "COMPLETED" for t in tools)
    await socket.close()

    # What the selector decided, and why, is kept with the query.
    connection = await asyncpg.connect(deployment.database_url)
    try:
        query = await connection.fetchrow("SELECT agent, agent_reason FROM user_queries ORDER BY id DESC LIMIT 1")
        rows = json.dumps([dict(r) for r in await connection.fetch("SELECT * FROM integrations")], default=str)
    finally:
        await connection.close()
    assert query["agent"] == "docs" and query["agent_reason"] == "signal: links a Confluence page"
    log = "".join(p.read_text() for p in deployment.workdir.glob("server-*.log"))
    for secret in (GITHUB_TOKEN, JIRA_TOKEN, CONFLUENCE_TOKEN):
        assert secret not in rows and secret not in log
        assert all(secret not in r.stdout + r.stderr for r in added)


async def test_another_team_sees_no_connection_and_gets_no_integration_tools(deployment, fakes):
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli.main", "token", "create", "--email", "mal@example.com", "--team", "rivals"],
        cwd=ROOT, env=deployment.env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    deployment.tokens["mal"] = result.stdout.strip()
    listing = await deployment.client("mal").rest("GET", "/v1/integrations")
    assert listing.status_code == 200 and listing.json()["data"] == []
    deployment.script({"text": "no tools for you"})
    socket = await deployment.client("mal").socket()
    await socket.ask({"query": "/jira what is ENG-7?"})
    offered = deployment.model_calls()[-1]["tools"]
    assert not any(name.startswith(("jira_", "confluence_", "scm_")) for name in offered)
    await socket.close()


async def test_the_ticket_agent_creates_an_issue_only_when_explicitly_asked(deployment, fakes):
    _, jira, _, _ = fakes
    before = set(jira.issues)
    deployment.script({"text": "ENG-7 is in progress."})
    socket = await deployment.client().socket()
    await socket.ask({"query": "what is the status of ENG-7?"})
    asked = deployment.model_calls()[-1]
    assert "jira_get_issue" in asked["tools"] and "jira_create_issue" not in asked["tools"]
    assert "tickets (Jira or Linear)" in json.dumps(asked["messages"][0]), "the ticket agent answered"

    deployment.script(
        {"tool_calls": [{"name": "jira_create_issue", "input": {"project": "ENG", "summary": "Flaky deploy step"}}]},
        {"text": "Created it."},
    )
    await socket.ask({"query": "please create a ticket in ENG for the flaky deploy step (see ENG-7)"})
    created = set(jira.issues) - before
    assert len(created) == 1 and jira.issues[created.pop()].summary == "Flaky deploy step"
    result = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")
    assert "Created ENG-" in json.dumps(result) and "/browse/ENG-" in json.dumps(result)
    await socket.close()


async def test_removing_a_connection_takes_its_tools_away(deployment, fakes):
    removed = await asyncio.to_thread(adjutant, deployment, "integrations", "remove", "wiki", "--team", "core")
    assert removed.returncode == 0 and "removed confluence connection 'wiki'" in removed.stdout
    missing = await asyncio.to_thread(adjutant, deployment, "integrations", "remove", "wiki", "--team", "core")
    assert missing.returncode == 2 and "no connection 'wiki'" in missing.stderr
    listed = await asyncio.to_thread(adjutant, deployment, "integrations", "list", "--team", "core")
    assert "wiki" not in listed.stdout and "jira" in listed.stdout
    await asyncio.sleep(0.6)  # the serving worker remembers a team's connection kinds for 0.5 s here
    deployment.script({"text": "no docs"})
    socket = await deployment.client().socket()
    await socket.ask({"query": "/docs how do we roll back?"})
    offered = deployment.model_calls()[-1]["tools"]
    assert not any(name.startswith("confluence_") for name in offered)
    await socket.close()
