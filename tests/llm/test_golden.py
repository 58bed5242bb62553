"""Golden transcripts: real provider SDKs, pointed at a loopback server replaying each provider's real
streaming wire format, must turn every transcript into exactly the expected canonical events."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.llm import errors
from app.llm.providers.base import collect
from app.llm.types import LLMEvent
from app.runtime.settings import ModelRoute
from tests.fakes.llm_server import FakeLLMServer, Reply
from tests.llm.conftest import call_for, keys_for, pool_for, registry_of, spec

GOLDEN = Path(__file__).parent / "golden"
ROUTES = {
    "openai_responses": ModelRoute(provider="openai", model="gpt-test"),
    "openai_chat": ModelRoute(provider="openai", model="gpt-test", api="chat"),
    "anthropic": ModelRoute(provider="anthropic", model="claude-test"),
    "gemini": ModelRoute(provider="gemini", model="gemini-test"),
}
CASES = sorted((api, path.stem) for api in ROUTES for path in (GOLDEN / api).glob("*.json"))


def load(api: str, name: str) -> dict:
    return json.loads((GOLDEN / api / f"{name}.json").read_text())


def replies(case: dict) -> list[Reply]:
    return [
        Reply(
            status=r.get("status", 200),
            headers=r.get("headers", {}),
            body=r.get("body"),
            sse=[tuple(e) for e in r["sse"]] if "sse" in r else None,
            sse_terminator=r.get("sse_terminator"),
            hang_s=r.get("hang_s", 0.0),
            disconnect_after=r.get("disconnect_after"),
        )
        for r in case["replies"]
    ]


def normalise(events: list[LLMEvent], api: str) -> list[dict]:
    dumped = [e.model_dump(mode="json") for e in events]
    if api == "gemini":  # Gemini sends no call ids: ours are synthesised, unique and consistent per call
        ids = [d["id"] for d in dumped if d["kind"] == "tool_call_start"]
        assert len(set(ids)) == len(ids) and all(i.startswith("call_") for i in ids)
        for d in dumped:
            if d.get("id") in ids:
                d["id"] = "<synthesised>"
    return dumped


@pytest.mark.parametrize(("api", "name"), CASES, ids=[f"{a}-{n}" for a, n in CASES])
async def test_golden_transcript(fake_llm: FakeLLMServer, api: str, name: str):
    case = load(api, name)
    fake_llm.queue(*replies(case))
    keys = keys_for(fake_llm.base_url)
    model = registry_of(keys, spec("m", ROUTES[api])).get("m")
    adapter = pool_for(keys, idle_timeout_s=0.5)(ROUTES[api])
    received: list[LLMEvent] = []
    raised: Exception | None = None
    try:
        async for event in adapter.stream(call_for(model)):
            received.append(event)
    except Exception as exc:  # noqa: BLE001 - compared with the expected typed error below
        raised = exc
    finally:
        await adapter.aclose()
    assert normalise(received, api) == case["expected"]
    expected_error = case.get("error")
    if expected_error is None:
        assert raised is None, f"unexpected {raised!r}"
        return
    assert raised is not None, "the transcript must end in a typed error, never a normal end"
    assert type(raised).__name__ == expected_error["type"], repr(raised)
    assert isinstance(raised, errors.LLMError)
    assert raised.retryable is expected_error["retryable"]
    for field in ("retry_after", "status", "current", "maximum"):
        if field in expected_error:
            assert getattr(raised, field) == expected_error[field], field


def test_every_provider_has_the_required_golden_cases():
    required = {
        "text",
        "parallel_tool_calls",
        "thinking",
        "throttled",
        "server_error",
        "overloaded",
        "disconnect",
        "timeout",
    }
    for api in ROUTES:
        names = {path.stem for path in (GOLDEN / api).glob("*.json")}
        assert required <= names, (api, required - names)
        assert names & {"malformed_tool_json", "malformed_function_call"}, api


@pytest.mark.parametrize("api", sorted(ROUTES))
async def test_requests_sent_match_each_providers_wire_format(fake_llm: FakeLLMServer, api: str):
    """The request side: the fake records what the real SDK sent for our standard request."""
    fake_llm.queue(*replies(load(api, "text")))
    keys = keys_for(fake_llm.base_url)
    model = registry_of(keys, spec("m", ROUTES[api], supports_caching=True)).get("m")
    adapter = pool_for(keys)(ROUTES[api])
    await collect(adapter.stream(call_for(model)))
    await adapter.aclose()
    sent = fake_llm.requests[-1]
    body = sent.body
    if api == "openai_responses":
        assert sent.path == "/v1/responses" and body["stream"] is True and body["store"] is False
        assert body["instructions"] == "You are terse."
        assert body["input"] == [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
        assert [t["name"] for t in body["tools"]] == ["read_file", "grep"]
        assert body["tools"][0]["parameters"]["properties"]["path"]["type"] == "string"
        assert sent.headers["authorization"] == "Bearer sk-test-openai"
    elif api == "openai_chat":
        assert sent.path == "/v1/chat/completions" and body["stream_options"] == {"include_usage": True}
        assert body["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]
        assert body["tools"][1]["function"]["name"] == "grep"
    elif api == "anthropic":
        assert sent.path == "/v1/messages" and body["stream"] is True
        assert body["system"] == [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}, "cache breakpoint after the tools"
        assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert "sk-ant-test" in (
            sent.headers.get("x-api-key", ""),
            sent.headers.get("authorization", "").removeprefix("Bearer "),
        )
    else:
        assert re.fullmatch(r"/v1(beta)?/models/gemini-test:streamGenerateContent\?alt=sse", sent.path), sent.path
        assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
        assert body["systemInstruction"]["parts"][0]["text"] == "You are terse."
        declarations = body["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in declarations] == ["read_file", "grep"]
        assert sent.headers["x-goog-api-key"] == "gemini-test-key"


async def test_gemini_on_vertex_speaks_the_same_stream_with_google_credentials(fake_llm: FakeLLMServer):
    from google.oauth2.credentials import Credentials

    from app.llm.providers.pool import ProviderPool
    from tests.llm.conftest import router_policy

    case = load("gemini", "thinking")
    fake_llm.queue(*replies(case))
    route = ModelRoute(provider="vertex", model="gemini-test", base_url=fake_llm.base_url)
    keys = keys_for(fake_llm.base_url, vertex_project="my-project", vertex_location="europe-west4")
    model = registry_of(keys, spec("m", route)).get("m")
    pool = ProviderPool(keys, router_policy(), environ={}, google_credentials=Credentials(token="vertex-token"))
    adapter = pool(route)
    try:
        events = [event async for event in adapter.stream(call_for(model))]
    finally:
        await pool.aclose()
    assert normalise(events, "gemini") == case["expected"]
    sent = fake_llm.requests[-1]
    assert (
        "/projects/my-project/locations/europe-west4/publishers/google/models/gemini-test:streamGenerateContent"
        in sent.path
    )
    assert sent.headers["authorization"] == "Bearer vertex-token"
