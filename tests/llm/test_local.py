"""The embedded local model (llama-cpp-python, optional extra `local`) and its tool-call text protocol."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.llm.providers.base import collect
from app.llm.providers.local import LocalProvider, ToolCallParser
from app.llm.registry import smollm2_path
from app.llm.types import MalformedToolCallEvent, TextDelta, ToolCallEnd
from app.runtime.settings import ModelRoute
from tests.llm.conftest import call_for, keys_for, registry_of, spec

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


class FakeModel:
    """Stands in for llama.cpp (never loaded in this process): generation waits for `release`, and every call
    records which thread ran it and whether another call was inside the model at the same time."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.inside = 0
        self.most_inside = 0
        self.threads: set[int] = set()
        self.guard = threading.Lock()

    def _enter(self) -> None:
        with self.guard:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.threads.add(threading.get_ident())

    def _leave(self) -> None:
        with self.guard:
            self.inside -= 1

    def generate(self, messages, max_tokens, temperature, emit, cancelled):
        self._enter()
        try:
            self.started.set()
            self.release.wait(10)
            time.sleep(0.01)  # a tokenize slipped in beside this would overlap it
            emit("hello")
            return "stop", 1
        finally:
            self._leave()

    def count(self, text: str) -> int:
        self._enter()
        try:
            time.sleep(0.01)
            return len(text.split())
        finally:
            self._leave()


def local_call(tmp_path: Path):
    weights = tmp_path / "fake.gguf"
    weights.write_bytes(b"GGUF")
    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("local", ModelRoute(provider="local", model_path=str(weights))))
    return keys, call_for(registry.get("local"))


async def test_calls_waiting_for_the_local_model_hold_no_thread_of_the_default_pool(tmp_path):
    # Two cores: the default pool is small, and every asyncio.to_thread in the worker shares it.
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=2)
    loop.set_default_executor(pool)
    fake = FakeModel()
    keys, call = local_call(tmp_path)
    provider = LocalProvider(keys, load=lambda *_: fake)
    streams = [asyncio.create_task(collect(provider.stream(call))) for _ in range(4)]
    try:
        assert await asyncio.to_thread(fake.started.wait, 5), "the first generation started"
        # One call generates, three wait for the model: the default pool must still serve others at once.
        for _ in range(3):
            assert await asyncio.wait_for(asyncio.to_thread(lambda: "served"), timeout=2) == "served"
        assert fake.inside == 1
        fake.release.set()
        responses = await asyncio.wait_for(asyncio.gather(*streams), timeout=10)
    finally:
        fake.release.set()
        await provider.aclose()
        pool.shutdown(wait=False)
    assert [r.text for r in responses] == ["hello"] * 4
    assert all(r.usage.input_tokens > 0 for r in responses), "the prompt was counted by the model's tokenizer"
    assert fake.most_inside == 1, "no tokenization or generation ever ran beside another"
    assert threading.get_ident() not in fake.threads, "the model, tokenizer included, never runs on the event loop"
    assert len(fake.threads) == 1, "all model work runs on the provider's one thread"


async def test_a_local_call_given_up_on_while_waiting_spends_no_model_time(tmp_path):
    fake = FakeModel()
    keys, call = local_call(tmp_path)
    provider = LocalProvider(keys, load=lambda *_: fake)
    first = asyncio.create_task(collect(provider.stream(call)))
    try:
        assert await asyncio.to_thread(fake.started.wait, 5)
        waiting = asyncio.create_task(collect(provider.stream(call)))
        await asyncio.sleep(0.1)
        waiting.cancel()
        fake.release.set()
        assert (await asyncio.wait_for(first, 10)).text == "hello"
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.1)  # its queued job had its turn by now
    finally:
        fake.release.set()
        await provider.aclose()
    assert fake.most_inside == 1
