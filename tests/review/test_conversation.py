"""The resumable reviewer conversation, driven by the scripted model through the real router."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from app.errors import ReviewStateInvalid
from app.llm.types import ToolSpec
from app.review.conversation import (
    REPORT_TOOL,
    Failed,
    Findings,
    ReviewContext,
    ReviewerConversation,
    ToolRequests,
)
from app.review.packing import pack
from app.review.reviewers import CORRECTNESS, SECURITY
from app.review.rules import load_rules
from tests.review.diffs import file_diff
from tests.review.scripted import call, finding, report, review_model


class GrepSearch(BaseModel):
    search_path: str
    query: str
    case_insensitive: bool
    use_regex: bool


class FileReader(BaseModel):
    file_path: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)


TOOLS = (
    ToolSpec.from_model("grep_search", "Search the repository", GrepSearch),
    ToolSpec.from_model("iterative_file_reader", "Read a file", FileReader),
)
GREP = {"search_path": ".", "query": "def load", "case_insensitive": False, "use_regex": False}


@pytest.fixture
def diff():
    files = [
        file_diff(
            "src/store.py", "def load(key):\n    return cache[key]\n", "def load(key):\n    return cache.get(key)\n"
        )
    ]
    (part,) = pack(
        files,
        load_rules('[review.path_instructions]\n"src/**" = "Keys are user input."'),
        budget_tokens=10_000,
        max_parts=1,
    )
    return part


def start(diff, reviewer=CORRECTNESS, **kwargs) -> ReviewerConversation:
    context = ReviewContext(
        title="Tolerate missing keys",
        description="Returns None for unknown keys.",
        rules=load_rules('[review.path_instructions]\n"src/**" = "Keys are user input."'),
        repo="acme/shop",
    )
    return ReviewerConversation.start(reviewer, context, diff, **({"tools": TOOLS} | kwargs))


async def test_client_tool_requests_go_to_the_driver_and_bad_calls_are_answered_inside(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(
        {
            "text": "Let me look around.",
            "tool_calls": [
                call("grep_search", GREP, "t1"),
                call("delete_repo", {}, "t2"),
                call("iterative_file_reader", {"file_path": "src/store.py", "start_line": 0}, "t3"),
            ],
        },
        report(
            finding("src/store.py", 2, "Missing key returns None silently", evidence="    return cache.get(key)"),
            finding("src/store.py", 0, "Bad line"),
            "not an object",
        ),
    )
    conversation = start(diff)
    outcome = await conversation.step(model)
    assert isinstance(outcome, ToolRequests)
    assert [(c.id, c.name, c.arguments) for c in outcome.calls] == [("t1", "grep_search", GREP)]
    assert conversation.pending == ["t1"]

    conversation.add_tool_result("t1", "src/store.py:1: def load(key):")
    outcome = await conversation.step(model)
    assert isinstance(outcome, Findings)
    (kept,) = outcome.findings
    assert (kept.path, kept.line, kept.end_line, kept.reviewer) == ("src/store.py", 2, 2, "correctness")
    assert [reason.split(":")[0] for _, reason in outcome.rejected] == ["line", "entry"]
    assert outcome.rejected[1][0] == {"value": "not an object"}

    first, second = script.calls()
    assert first["tools"] == ["grep_search", "iterative_file_reader", REPORT_TOOL]
    system, user = first["messages"]
    assert "Correctness" in system["parts"][0]["text"] and "Keys are user input." in system["parts"][0]["text"]
    assert "Title: Tolerate missing keys" in user["parts"][0]["text"]
    assert "     2 + " in user["parts"][0]["text"]
    results = second["messages"][-1]["parts"]  # one tool message answering every call, in call order
    assert [(r["tool_call_id"], r["is_error"]) for r in results] == [("t1", False), ("t2", True), ("t3", True)]
    assert results[0]["content"][0]["text"] == "src/store.py:1: def load(key):"
    assert "Unknown tool 'delete_repo'" in results[1]["content"][0]["text"]
    assert "start_line" in results[2]["content"][0]["text"] and "end_line: required" in results[2]["content"][0]["text"]


async def test_only_bad_calls_never_reach_the_driver(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(
        {"tool_calls": [call("run_shell", {"command": "ls"}, "x1")]},
        {"tool_calls": [call("grep_search", {"query": 3}, "x2")]},
        report(),
    )
    conversation = start(diff)
    outcome = await conversation.step(model)
    assert isinstance(outcome, Findings) and outcome.findings == [] and outcome.rejected == []
    assert len(script.calls()) == 3 and conversation.tool_steps == 3


async def test_a_reply_without_a_tool_call_gets_one_reminder_then_the_reviewer_fails(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play({"text": "Looks fine to me."}, report(finding("src/store.py", 2, "Silent None")))
    outcome = await start(diff).step(model)
    assert isinstance(outcome, Findings) and len(outcome.findings) == 1
    retry = script.calls()[1]["messages"]
    assert retry[-2] == {
        "role": "assistant",
        "parts": [{"type": "text", "text": "Looks fine to me.", "cache_breakpoint": False}],
    }
    assert REPORT_TOOL in retry[-1]["parts"][0]["text"] and retry[-1]["role"] == "user"

    script.play({"text": "Fine."}, {"text": "Still fine."}, report())
    conversation = start(diff)
    outcome = await conversation.step(model)
    assert isinstance(outcome, Failed) and "after a reminder" in outcome.reason
    assert len(script.calls()) == 2
    assert await conversation.step(model) is outcome  # terminal: no further model call
    assert len(script.calls()) == 2


async def test_at_the_tool_step_cap_only_report_findings_is_offered(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(
        {"tool_calls": [call("grep_search", GREP, "g1")]},
        {"tool_calls": [call("grep_search", GREP, "g2")]},  # ignores the cap: reminded
        report(finding("src/store.py", 2, "Silent None")),
    )
    conversation = start(diff, max_tool_steps=1)
    assert isinstance(await conversation.step(model), ToolRequests)
    conversation.add_tool_result("g1", "nothing")
    outcome = await conversation.step(model)
    assert isinstance(outcome, Findings) and len(outcome.findings) == 1
    first, capped, reminded = script.calls()
    assert first["tools"] == ["grep_search", "iterative_file_reader", REPORT_TOOL] and first["tool_choice"] == "auto"
    assert capped["tools"] == [REPORT_TOOL] and capped["tool_choice"] == "tool"
    assert reminded["tools"] == [REPORT_TOOL]


async def test_a_reviewer_without_tools_is_offered_only_report_findings(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(report())
    quiet = CORRECTNESS.model_copy(update={"tools_enabled": False})
    assert isinstance(await start(diff, reviewer=quiet).step(model), Findings)
    assert script.calls()[0]["tools"] == [REPORT_TOOL]


async def test_an_unusable_report_is_answered_and_retried(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(
        {"tool_calls": [{"name": REPORT_TOOL, "id": "r1", "input": {"findings": "none"}}]},
        report(call_id="r2"),
    )
    outcome = await start(diff).step(model)
    assert isinstance(outcome, Findings) and outcome.findings == []
    answer = script.calls()[1]["messages"][-1]["parts"][0]
    assert answer["is_error"] and "must be a list" in answer["content"][0]["text"]


async def test_a_failing_model_ends_the_reviewer_with_the_reason(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play({"error": {"kind": "provider", "status": 500, "message": "upstream exploded"}})
    outcome = await start(diff).step(model)
    assert isinstance(outcome, Failed) and "upstream exploded" in outcome.reason


async def test_the_state_round_trips_mid_conversation(tmp_path, diff):
    model, script = review_model(tmp_path)
    script.play(
        {
            "tool_calls": [
                call("grep_search", GREP, "s1"),
                call("iterative_file_reader", {"file_path": "a.py", "start_line": 1, "end_line": 9}, "s2"),
            ]
        },
        report(finding("src/store.py", 2, "Silent None", evidence="return cache.get(key)")),
    )
    conversation = start(diff)
    assert isinstance(await conversation.step(model), ToolRequests)
    conversation.add_tool_result("s1", "grep hit")
    stored = json.loads(json.dumps(conversation.to_state()))  # what a driver keeps between round trips

    with pytest.raises(ReviewStateInvalid):
        ReviewerConversation.from_state(stored, SECURITY)
    resumed = ReviewerConversation.from_state(stored, CORRECTNESS)
    assert resumed.pending == ["s2"]
    with pytest.raises(ReviewStateInvalid):
        await resumed.step(model)  # a result is still owed
    with pytest.raises(ReviewStateInvalid):
        resumed.add_tool_result("s1", "again")  # already answered
    resumed.add_tool_result("s2", "x" * 50_000, is_error=False)
    outcome = await resumed.step(model)
    assert isinstance(outcome, Findings) and outcome.findings[0].title == "Silent None"

    sent = script.calls()[1]["messages"]
    assert sent[:3] == script.calls()[0]["messages"] + [sent[2]] and sent[2]["role"] == "assistant"
    results = sent[-1]["parts"]
    assert [r["tool_call_id"] for r in results] == ["s1", "s2"]
    assert results[1]["content"][0]["text"].endswith("tokens]") and len(results[1]["content"][0]["text"]) < 30_000

    finished = ReviewerConversation.from_state(json.loads(json.dumps(resumed.to_state())), CORRECTNESS)
    assert finished.outcome == outcome and resumed.usage.input_tokens > 0
    with pytest.raises(ReviewStateInvalid):
        ReviewerConversation.from_state({"version": 1, "reviewer": "correctness"}, CORRECTNESS)
