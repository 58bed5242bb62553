"""Tool results across the model calls of one step: a server tool (answered inside the step) followed by a
client tool, two server-tool rounds, and one batch of tool responses continued by two processes at once.
Every model request must answer each tool call of the conversation exactly once, right after it, in the
order the model made the calls (real providers reject anything else)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.contract.test_basic_scenarios import FINAL, session_of

SEARCH = {"name": "code_search", "input": {"query": "where is the cart total computed"}}
LIST_FILES = {"name": "file_path_searcher", "input": {"directory": ".", "repo_path": "/repo"}}


def answered_in_order(messages: list[dict[str, Any]]) -> list[list[str]]:
    """For each assistant message with tool calls: the ids its next message answers; asserts they match."""
    rounds = []
    for position, message in enumerate(messages):
        calls = (
            [p["id"] for p in message["parts"] if p["type"] == "tool_call"] if message["role"] == "assistant" else []
        )
        if not calls:
            continue
        following = messages[position + 1] if position + 1 < len(messages) else None
        assert following is not None and following["role"] == "tool", f"tool calls {calls} left unanswered"
        answers = [p["tool_call_id"] for p in following["parts"]]
        assert answers == calls, f"calls {calls} answered by {answers}"
        rounds.append(answers)
    results = [p["tool_call_id"] for m in messages if m["role"] == "tool" for p in m["parts"]]
    assert len(results) == len(set(results)), f"a tool call answered twice: {results}"
    return rounds


async def test_a_client_tool_after_a_server_tool_gets_its_result_in_the_next_request(deployment):
    deployment.script({"tool_calls": [SEARCH]}, {"tool_calls": [LIST_FILES]}, {"text": "found it"})
    socket = await deployment.client().socket()
    first = await socket.ask({"query": "find the cart"})
    assert first.compact() == ["SS", "SI", "RM", "TU(file_path_searcher)", "SE"]
    (call,) = first.tool_requests()
    done = await socket.ask(
        {
            "session_id": session_of(first),
            "batch_tool_responses": [
                {
                    "tool_name": "file_path_searcher",
                    "tool_use_id": call["tool_use_id"],
                    "response": {"file_path_search": {"data": ["web/src/cart.ts"]}},
                    "status": "COMPLETED",
                }
            ],
        }
    )
    assert done.compact() == FINAL and done.text == "found it"
    last = deployment.model_calls()[-1]["messages"]
    rounds = answered_in_order(last)
    assert len(rounds) == 2 and rounds[1] == [call["tool_use_id"]]
    listed = next(m for m in last if m["role"] == "tool" and m["parts"][0]["tool_call_id"] == call["tool_use_id"])
    assert "web/src/cart.ts" in listed["parts"][0]["content"][0]["text"]
    await socket.close()


async def test_two_server_tool_rounds_in_one_step_are_both_answered(deployment):
    second = {"name": "code_search", "input": {"query": "open a connection"}}
    deployment.script({"tool_calls": [SEARCH]}, {"tool_calls": [second]}, {"text": "both searched"})
    socket = await deployment.client().socket()
    turn = await socket.ask({"query": "search twice"})
    assert turn.compact() == FINAL and turn.text == "both searched"
    calls = deployment.model_calls()
    assert len(answered_in_order(calls[1]["messages"])) == 1
    assert len(answered_in_order(calls[2]["messages"])) == 2
    await socket.close()


async def test_one_batch_continued_by_two_processes_at_once_is_answered_once_and_continued_once(deployment):
    if len(deployment.servers) < 2:
        deployment.start_server()
    deployment.script({"tool_calls": [LIST_FILES]}, {"text": "continued once", "delay_ms": 20}, mode="sequence")
    first_socket = await deployment.client(index=0).socket()
    first = await first_socket.ask({"query": "list the files"})
    (call,) = first.tool_requests()
    batch = {
        "session_id": session_of(first),
        "batch_tool_responses": [
            {
                "tool_name": "file_path_searcher",
                "tool_use_id": call["tool_use_id"],
                "response": {"file_path_search": {"data": ["a.py"]}},
                "status": "COMPLETED",
            }
        ],
    }
    second_socket = await deployment.client(index=1).socket(session_of(first))
    turns = await asyncio.gather(first_socket.ask(batch), second_socket.ask(batch))
    calls = deployment.model_calls()
    assert len(calls) == 2, "one continuation, whichever process started it"
    assert answered_in_order(calls[1]["messages"])[-1] == [call["tool_use_id"]]
    for turn in turns:
        assert turn.compact()[-1] in ("SECC", "SE", "ERR(SESSION_BUSY)"), turn.compact()
    assert any(turn.text == "continued once" for turn in turns)
    await first_socket.close()
    await second_socket.close()
