"""The embedded local model (llama-cpp-python, optional extra `local`) and its tool-call text protocol."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.llm.providers.local import ToolCallParser
from app.llm.registry import smollm2_path
from app.llm.types import MalformedToolCallEvent, TextDelta, ToolCallEnd

ROOT = Path(__file__).resolve().parents[2]

needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or smollm2_path() is None,
    reason="the `local` extra is not installed (uv sync --extra local)",
)


def feed(parser: ToolCallParser, *chunks: str) -> list:
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.finish()


def test_tool_calls_are_found_even_when_tags_are_split_across_chunks():
    events = feed(
        ToolCallParser(),
        "Let me check. <tool",
        '_call>{"name": "read_file", ',
        '"arguments": {"path": "a.py"}}</tool_',
        "call> trailing",
    )
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Let me check.  trailing"
    (end,) = [e for e in events if isinstance(e, ToolCallEnd)]
    assert (end.name, end.arguments) == ("read_file", {"path": "a.py"})


def test_text_that_merely_looks_like_a_tag_is_not_swallowed():
    events = feed(ToolCallParser(), "a < b and <tool", "box> stays")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "a < b and <toolbox> stays"


def test_an_unterminated_or_broken_call_is_reported_malformed():
    events = feed(ToolCallParser(), '<tool_call>{"name": "grep", "arguments": {"pattern": ')
    assert any(isinstance(e, MalformedToolCallEvent) for e in events)


def run_check(name: str) -> dict:
    """Run one real-model check in a child process: a native crash there fails this test, not the run."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.llm.local_model_checks", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if child.returncode < 0:
        pytest.fail(f"the local model crashed the child process with {signal.Signals(-child.returncode).name}")
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


@needs_local
def test_the_real_local_model_answers():
    result = run_check("answer")
    assert result["text"].strip(), "the model produced no text"
    assert result["finish"] in ("stop", "max_tokens")
    assert result["input_tokens"] > 5 and 0 < result["output_tokens"] <= 24


@needs_local
def test_the_offline_estimate_is_conservative_against_a_real_tokenizer():
    for path, count in run_check("token_counts").items():
        assert count["real"] <= count["estimate"] <= count["real"] * 1.5, (path, count)


def test_a_crashing_check_fails_its_test_without_taking_the_run_down():
    """The isolation itself: a child that dies by SIGSEGV is reported as a failure, and this process goes on."""
    with pytest.raises(pytest.fail.Exception, match="SIGSEGV"):
        run_check("segfault")
