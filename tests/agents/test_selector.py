"""Agent selection: rules first, a model call only when they cannot decide, the default on any doubt."""

from __future__ import annotations

import asyncio

from app.agents.base import AgentInput
from app.agents.selector import select_agent


async def never(query, agents):
    raise AssertionError("the rules should have decided")


async def test_without_write_mode_there_is_one_candidate_and_no_model_call():
    selection = await select_agent(AgentInput(query="fix the bug in a.py", write_mode=False), never)
    assert (selection.agent.name, selection.by) == ("code_qa", "rules")


async def test_explicit_commands_win_and_are_stripped():
    selection = await select_agent(AgentInput(query="/edit what does main do?", write_mode=True), never)
    assert (selection.agent.name, selection.query, selection.by) == ("code_edit", "what does main do?", "explicit")


async def test_keywords_decide_in_write_mode():
    assert (
        await select_agent(AgentInput(query="refactor the parser", write_mode=True), never)
    ).agent.name == "code_edit"
    assert (await select_agent(AgentInput(query="why is this slow?", write_mode=True), never)).agent.name == "code_qa"


async def test_the_model_decides_ambiguous_requests_and_unknown_answers_mean_default():
    calls = []

    async def picks(answer):
        async def classify(query, agents):
            calls.append(query)
            return answer

        return classify

    ambiguous = AgentInput(query="how should I fix this?", write_mode=True)
    assert (await select_agent(ambiguous, await picks("code_qa"))).by == "model"
    fallback = await select_agent(ambiguous, await picks("the best agent is bob"))
    assert (fallback.agent.name, fallback.by) == ("code_edit", "default")
    assert len(calls) == 2


async def test_a_slow_or_failing_selector_falls_back_to_the_default():
    async def slow(query, agents):
        await asyncio.sleep(5)
        return "code_qa"

    selection = await select_agent(AgentInput(query="how should I fix this?", write_mode=True), slow, timeout_s=0.05)
    assert (selection.agent.name, selection.by) == ("code_edit", "default")


# --- the specialised agents ------------------------------------------------------------------------------

TRACKER = frozenset({"jira"})
EVERYTHING = frozenset({"github", "jira", "confluence"})


async def test_explicit_commands_pick_the_specialised_agents_when_their_service_is_connected():
    for command, agent in (("/jira", "ticket"), ("/docs", "docs"), ("/pr", "pr"), ("/ask", "code_qa")):
        selection = await select_agent(AgentInput(query=f"{command} what changed?"), never, connected=EVERYTHING)
        assert (selection.agent.name, selection.query, selection.by) == (agent, "what changed?", "explicit")
        assert selection.reason == f"the user asked for {command}"


async def test_an_explicit_command_without_its_connection_falls_back_and_says_why():
    selection = await select_agent(AgentInput(query="/docs how do we deploy?"), never)
    assert (selection.agent.name, selection.by) == ("code_qa", "default")
    assert "confluence" in selection.reason


async def test_a_ticket_key_means_the_ticket_agent_only_when_a_tracker_is_connected():
    query = AgentInput(query="what is the status of PAY-142 and who owns it")
    chosen = await select_agent(query, never, connected=TRACKER)
    assert (chosen.agent.name, chosen.by) == ("ticket", "signal") and "PAY-142" in chosen.reason
    assert (await select_agent(query, never)).agent.name == "code_qa"  # no tracker: just text
    for text in ("we use UTF-8 everywhere", "see src/PAY-142/readme", "fix CVE-2024-1234 handling"):
        picked = await select_agent(AgentInput(query=text), None, connected=TRACKER)
        assert picked.agent.name != "ticket", text


async def test_links_decide_pr_and_docs_before_ticket_keys():
    pr = await select_agent(
        AgentInput(query="summarise https://github.com/acme/shop/pull/17 for PAY-1"), never, connected=EVERYTHING
    )
    assert (pr.agent.name, pr.by) == ("pr", "signal")
    docs = await select_agent(
        AgentInput(query="is https://acme.atlassian.net/wiki/spaces/ENG/pages/42/Deploy still right for PAY-9?"),
        never,
        connected=EVERYTHING,
    )
    assert docs.agent.name == "docs"
    assert (
        await select_agent(AgentInput(query="review PR #17 please"), never, connected=EVERYTHING)
    ).agent.name == "pr"


async def test_with_integrations_the_model_chooses_among_every_available_agent():
    seen = []

    async def classify(query, agents):
        seen.append([a.name for a in agents])
        return "ticket"

    selection = await select_agent(AgentInput(query="what are we doing about login"), classify, connected=TRACKER)
    assert (selection.agent.name, selection.by) == ("ticket", "model")
    assert seen == [["code_qa", "ticket"]], "only agents whose service is connected, only readers without write mode"
