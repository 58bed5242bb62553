"""The scripted provider: product code that tests, demos and benchmarks drive the whole stack with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.llm.errors import InputTokenLimitExceeded, ProviderError, Throttled
from app.llm.providers.base import collect
from app.llm.providers.scripted import ScriptedProvider
from app.llm.router import LLMRouter
from app.llm.types import ErrorEvent, Finish, MalformedToolCallEvent, TextDelta, ThinkingEnd, ToolCallDelta
from app.runtime.settings import ModelRoute
from tests.llm.conftest import call_for, keys_for, pool_for, registry_of, router_policy, spec, standard_request


def scripted(tmp_path: Path, script: dict, *, record: bool = True, limit: int = 100_000):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    route = ModelRoute(
        provider="scripted", script_path=str(path), record_path=str(tmp_path / "record.jsonl") if record else ""
    )
    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("s", route, limit=limit))
    return registry.get("s"), LLMRouter(registry, pool_for(keys), router_policy(max_retries=0))


def records(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]


async def test_a_sequence_plays_each_response_once_across_provider_instances(tmp_path):
    model, _ = scripted(tmp_path, {"mode": "sequence", "responses": [{"text": "first"}, {"text": "second"}]})
    # Two instances stand for two server processes sharing the script file.
    one, two = ScriptedProvider(), ScriptedProvider()
    assert (await collect(one.stream(call_for(model)))).text == "first"
    assert (await collect(two.stream(call_for(model)))).text == "second"
    with pytest.raises(ProviderError, match="no response #3"):
        await collect(one.stream(call_for(model)))


async def test_repeat_mode_cycles(tmp_path):
    model, _ = scripted(tmp_path, {"mode": "repeat", "responses": [{"text": "a"}, {"text": "b"}]})
    provider = ScriptedProvider()
    texts = [(await collect(provider.stream(call_for(model)))).text for _ in range(5)]
    assert texts == ["a", "b", "a", "b", "a"]


async def test_every_request_and_what_it_offered_is_recorded(tmp_path):
    model, _ = scripted(tmp_path, {"responses": [{"text": "ok"}]})
    await collect(ScriptedProvider().stream(call_for(model)))
    (entry,) = records(tmp_path)
    assert entry["event"] == "request" and entry["tools"] == ["read_file", "grep"]
    assert entry["messages"][1] == {
        "role": "user",
        "parts": [{"type": "text", "text": "hi", "cache_breakpoint": False}],
    }


async def test_thinking_text_and_tool_calls_stream_in_chunks(tmp_path):
    model, _ = scripted(
        tmp_path,
        {
            "responses": [
                {
                    "thinking": "let me look",
                    "text": "Reading the file.",
                    "chunk_chars": 4,
                    "tool_calls": [{"name": "read_file", "input": {"path": "src/app.py"}}],
                }
            ]
        },
    )
    events = [e async for e in ScriptedProvider().stream(call_for(model))]
    assert any(isinstance(e, ThinkingEnd) and e.signature for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Reading the file."
    deltas = [e.arguments_delta for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) > 1 and json.loads("".join(deltas)) == {"path": "src/app.py"}
    assert events[-1] == Finish(reason="tool_calls")


async def test_raw_arguments_that_are_not_json_become_a_malformed_call(tmp_path):
    model, _ = scripted(tmp_path, {"responses": [{"tool_calls": [{"name": "grep", "raw_arguments": "{oops"}]}]})
    events = [e async for e in ScriptedProvider().stream(call_for(model))]
    malformed = [e for e in events if isinstance(e, MalformedToolCallEvent)]
    assert len(malformed) == 1 and malformed[0].raw == "{oops" and malformed[0].name == "grep"


async def test_scripted_errors_are_the_typed_errors_the_router_handles(tmp_path):
    _, router = scripted(
        tmp_path,
        {
            "responses": [
                {"error": {"kind": "throttled", "retry_after": 7}},
                {"text": "one two three four five", "chunk_chars": 4, "error": {"kind": "provider", "after_chunks": 3}},
                {"error": {"kind": "malformed", "raw": "print(read_file(", "reason": "bad call"}},
            ]
        },
    )
    with pytest.raises(Throttled) as caught:
        [e async for e in router.stream(standard_request("s"))]
    assert caught.value.retry_after == 7
    events = [e async for e in router.stream(standard_request("s"))]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two thre"
    assert isinstance(events[-1], ErrorEvent) and events[-1].error_kind == "provider"
    events = [e async for e in router.stream(standard_request("s"))]
    assert any(isinstance(e, MalformedToolCallEvent) and e.raw == "print(read_file(" for e in events)
    assert events[-1].reason == "malformed_tool_call"


async def test_forced_token_counts_trip_the_limit_before_the_provider_is_called(tmp_path):
    _, router = scripted(
        tmp_path, {"responses": [{"text": "never", "usage": {"input_tokens": 250_000}}]}, limit=200_000
    )
    with pytest.raises(InputTokenLimitExceeded) as caught:
        [e async for e in router.stream(standard_request("s"))]
    assert (caught.value.current, caught.value.maximum) == (250_000, 200_000)
    assert not (tmp_path / "record.jsonl").exists(), "the provider must not have been called"


async def test_an_invalid_script_is_a_clear_provider_error(tmp_path):
    model, _ = scripted(tmp_path, {"responses": [{"txt": "typo"}]})
    with pytest.raises(ProviderError, match="invalid script"):
        await collect(ScriptedProvider().stream(call_for(model)))


async def test_the_in_memory_request_list_keeps_only_the_latest_requests_while_the_log_keeps_all(tmp_path):
    model, _ = scripted(tmp_path, {"mode": "repeat", "responses": [{"text": "a"}]})
    provider = ScriptedProvider(remembered=5)
    for _ in range(12):
        await collect(provider.stream(call_for(model)))
    assert len(provider.requests) == 5, "bounded, however long the process runs"
    assert [r["response"] for r in provider.requests] == list(range(7, 12)), "the most recent ones"
    assert len(records(tmp_path)) == 12, "the JSONL log is the complete record"
