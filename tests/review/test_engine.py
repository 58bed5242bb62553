"""The review engine end to end: packing, parallel reviewer passes with server tools, validation, the critic
and the summary, on the scripted model through the real router."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from app.llm.types import ToolCallPart, ToolSpec
from app.review.conversation import REPORT_TOOL, ReviewContext
from app.review.engine import review_diff
from app.review.reviewers import CORRECTNESS, PERFORMANCE, SECURITY
from app.review.rules import load_rules
from app.runtime.config_loader import load_settings
from tests.review.diffs import file_diff
from tests.review.scripted import call, finding, report, review_model

BEFORE = "".join(f"def handler_{i}(request):\n    return respond(request, {i})\n\n" for i in range(20))
AFTER = BEFORE.replace(
    "def handler_7(request):\n    return respond(request, 7)\n",
    "def handler_7(request):\n    path = request.args['file']\n    return open('/srv/' + path).read()\n",
)
EVIDENCE = "return open('/srv/' + path).read()"  # new-side lines 22-23


class ReadFile(BaseModel):
    path: str


READ_FILE = ToolSpec.from_model("scm_read_file", "Read a file of the repository", ReadFile)


@pytest.fixture(scope="module")
def base():
    return load_settings(environ={}, include_config_file=False).review


def settings_for(base, **changes):
    return base.model_copy(update={"critic": False, **changes})


async def test_parallel_reviewers_with_a_server_tool_then_validation(tmp_path, base):
    model, script = review_model(tmp_path)
    slow = {"delay_ms": 300, "chunk_chars": 100_000}
    true = finding(
        "app/files.py",
        23,
        "Path traversal through the file argument",
        severity="critical",
        category="security",
        confidence=0.95,
        evidence=EVIDENCE,
    )
    script.play(
        {"tool_calls": [call("scm_read_file", {"path": "app/files.py"}, "read1")], **slow},
        report(true, finding("app/files.py", 50, "Handler 16 is slow", evidence="return respond(request, 16)"), **{})
        | slow,
        report(
            finding(
                "app/files.py",
                22,
                "User controlled path opens any file",
                severity="high",
                category="security",
                confidence=0.8,
                evidence=EVIDENCE,
            ),
            finding("app/files.py", 23, "Consider pathlib", severity="low", confidence=0.3, evidence=EVIDENCE),
        )
        | slow,
        report() | slow,
    )
    ran: list[ToolCallPart] = []

    async def run_tool(tool_call: ToolCallPart) -> tuple[str, bool]:
        ran.append(tool_call)
        return "def handler_7(request): ...", False

    files = [file_diff("app/files.py", BEFORE, AFTER), file_diff("poetry.lock", "a\n", "b\n")]
    result = await review_diff(
        files,
        ReviewContext(title="Serve files", rules=load_rules('[review]\nignore = ["poetry.lock"]')),
        model=model,
        reviewers=[SECURITY, CORRECTNESS, PERFORMANCE],
        settings=settings_for(base, parallel_passes=3),
        run_tool=run_tool,
        tools=(READ_FILE,),
    )
    assert [(f.path, f.line, f.severity, f.title) for f in result.findings] == [
        ("app/files.py", 23, "critical", "Path traversal through the file argument")
    ]
    reasons = sorted(reason.split(":")[0] for _, reason in result.dropped)
    assert reasons == ["confidence", "duplicate", "off_diff"]
    assert [(c.id, c.arguments) for c in ran] == [("read1", {"path": "app/files.py"})]
    assert result.files_reviewed == ["app/files.py"]
    assert result.omitted == [("poetry.lock", "ignored by the repository's review rules")]
    assert result.reviewers_failed == []
    assert result.counts["critical"] == 1 and result.counts["findings"] == 1 and result.counts["dropped"] == 3
    assert "| critical | 1 |" in result.summary_markdown and "`poetry.lock`: ignored" in result.summary_markdown

    calls = script.calls()
    assert len(calls) == 4 and all(c["tools"] == ["scm_read_file", REPORT_TOOL] for c in calls)
    starts = sorted(c["time"] for c in calls)
    assert starts[2] - starts[0] < 0.25  # three passes were asked before any 300 ms answer came back
    fed_back = [c for c in calls if c["messages"][-1]["role"] == "tool"]
    assert fed_back[0]["messages"][-1]["parts"][0]["content"][0]["text"] == "def handler_7(request): ..."
    assert json.loads(json.dumps(result.to_json()))["findings"][0]["fingerprint"] == result.findings[0].fingerprint


async def test_without_a_tool_runner_no_tools_are_offered_and_a_failing_tool_is_reported_to_the_model(tmp_path, base):
    model, script = review_model(tmp_path)
    script.play(report())
    files = [file_diff("app/files.py", BEFORE, AFTER)]
    result = await review_diff(
        files,
        ReviewContext(),
        model=model,
        reviewers=[SECURITY],
        settings=settings_for(base),
        run_tool=None,
        tools=(READ_FILE,),
    )
    assert result.findings == [] and script.calls()[0]["tools"] == [REPORT_TOOL]
    assert "No findings" in result.summary_markdown

    script.play({"tool_calls": [call("scm_read_file", {"path": "x"}, "r1")]}, report())

    async def broken(tool_call: ToolCallPart) -> tuple[str, bool]:
        raise ConnectionError("scm down")

    await review_diff(
        files,
        ReviewContext(),
        model=model,
        reviewers=[SECURITY],
        settings=settings_for(base),
        run_tool=broken,
        tools=(READ_FILE,),
    )
    answer = script.calls()[1]["messages"][-1]["parts"][0]
    assert answer["is_error"] and answer["content"][0]["text"] == "The tool failed: ConnectionError"


async def test_the_critic_rejects_what_it_disproves(tmp_path, base):
    model, script = review_model(tmp_path)
    second = finding(
        "app/files.py",
        22,
        "Missing validation of request.args",
        category="input",
        confidence=0.8,
        evidence="path = request.args['file']",
        explanation="KeyError when the argument is missing.",
    )
    script.play(
        report(finding("app/files.py", 23, "Path traversal", severity="critical", evidence=EVIDENCE), second),
        {
            "tool_calls": [
                {
                    "name": "submit_verdicts",
                    "id": "v",
                    "input": {
                        "verdicts": [
                            {"index": 1, "keep": False, "reason": "the framework returns 400"},
                            {"index": 2, "keep": True},
                        ]
                    },
                }
            ]
        },
    )
    result = await review_diff(
        [file_diff("app/files.py", BEFORE, AFTER)],
        ReviewContext(),
        model=model,
        reviewers=[SECURITY],
        settings=settings_for(base, critic=True),
    )
    assert [f.title for f in result.findings] == ["Path traversal"]
    assert [(f.title, reason) for f, reason in result.dropped] == [
        ("Missing validation of request.args", "critic: the framework returns 400")
    ]
    critic_call = script.calls()[1]
    assert (
        critic_call["tool_choice"] == "tool"
        and "1. app/files.py:22-22" in critic_call["messages"][1]["parts"][0]["text"]
    )


async def test_a_diff_split_in_parts_runs_each_reviewer_per_part_and_a_failed_pass_is_named(tmp_path, base):
    model, script = review_model(tmp_path)
    one = file_diff("src/one.py", BEFORE, AFTER.replace("handler_", "one_"), context=40)
    two = file_diff("src/two.py", BEFORE, AFTER.replace("handler_", "two_"), context=40)
    script.play(
        report(finding("src/one.py", 23, "Path traversal in one", severity="critical", evidence=EVIDENCE)),
        {"error": {"kind": "provider", "status": 400, "message": "bad request"}},
    )
    result = await review_diff(
        [one, two],
        ReviewContext(),
        model=model,
        reviewers=[SECURITY],
        settings=settings_for(base, budget_tokens=1000, parallel_passes=1),
    )
    calls = script.calls()
    assert len(calls) == 2
    shown = [c["messages"][1]["parts"][0]["text"] for c in calls]
    assert "FILE: src/one.py" in shown[0] and "src/two.py" not in shown[0] and "FILE: src/two.py" in shown[1]
    assert [f.title for f in result.findings] == ["Path traversal in one"]
    assert result.reviewers_failed == ["security"] and "could not finish: security" in result.summary_markdown
    assert result.files_reviewed == ["src/one.py", "src/two.py"]


async def test_review_switched_off_by_the_rules_calls_no_model(tmp_path, base):
    model, script = review_model(tmp_path)
    script.play(report())
    result = await review_diff(
        [file_diff("a.py", "x\n", "y\n")],
        ReviewContext(rules=load_rules("[review]\nenabled = false")),
        model=model,
        reviewers=[SECURITY],
        settings=settings_for(base),
    )
    assert result.findings == [] and script.calls() == [] and result.omitted[0][0] == "a.py"
