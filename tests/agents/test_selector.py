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
