"""The router: budget checks before any call, retries with backoff, Retry-After, fallback routes and models,
timeouts, cancellation, and failures after output becoming error events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.llm.errors import InputTokenLimitExceeded, LLMTimeout, ProviderError, Throttled
from app.llm.router import LLMRouter
from app.llm.types import ErrorEvent, Finish, Message, RouteEvent, TextDelta
from app.runtime.settings import ModelRoute
from tests.fakes.llm_server import FakeLLMServer, Reply
from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec, standard_request

ANTHROPIC = ModelRoute(provider="anthropic", model="claude-test")
OPENAI = ModelRoute(provider="openai", model="gpt-test")


def anthropic_text(text: str) -> Reply:
    return Reply(
        sse=[
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "m",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "usage": {"input_tokens": 5, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            *[
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": c}},
                )
                for c in text.split(" ")
            ],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )


def openai_text(text: str) -> Reply:
    return Reply(
        sse=[
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": "i",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                },
            ),
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": {
                        "id": "r",
                        "status": "completed",
                        "output": [],
                        "usage": {"input_tokens": 5, "output_tokens": 2},
                    },
                },
            ),
        ]
    )


def throttled(retry_after: str) -> Reply:
    return Reply.error(
        429,
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        headers={"retry-after": retry_after},
    )


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_router(fake: FakeLLMServer, *models, sleeps: Sleeps | None = None, **policy) -> LLMRouter:
    keys = keys_for(fake.base_url)
    return LLMRouter(
        registry_of(keys, *models),
        pool_for(keys, **policy),
        router_policy(**policy),
        sleep=sleeps or Sleeps(),
        jitter=lambda: 0.5,
    )


async def drain(router: LLMRouter, **request) -> list:
    return [event async for event in router.stream(standard_request(**request))]


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_a_throttled_primary_falls_back_to_the_next_model(fake_llm):
    fake_llm.queue(throttled("30"), openai_text("from the fallback"))
    router = make_router(fake_llm, spec("primary", ANTHROPIC, fallbacks=("backup",)), spec("backup", OPENAI, mid=2))
    events = await drain(router, model="primary")
    route = events[0]
    assert isinstance(route, RouteEvent)
    assert (route.model, route.provider, route.fallback_from) == ("backup", "openai", "primary")
    assert text_of(events) == "from the fallback"
    assert [r.path for r in fake_llm.requests] == ["/v1/messages", "/v1/responses"]


async def test_retryable_failures_are_retried_with_growing_jittered_backoff(fake_llm):
    server_error = Reply.error(500, {"type": "error", "error": {"type": "api_error", "message": "boom"}})
    fake_llm.queue(server_error, server_error, anthropic_text("third time lucky"))
    sleeps = Sleeps()
    router = make_router(fake_llm, spec("m", ANTHROPIC), sleeps=sleeps, backoff_initial_s=1.0, backoff_max_s=8.0)
    events = await drain(router, model="m")
    assert events[0].attempts == 3
    assert text_of(events) == "thirdtimelucky"
    assert sleeps.calls == [0.5 * 1.0, 0.5 * 2.0]  # jitter 0.5 of the doubling ceiling


async def test_a_short_retry_after_is_waited_out_on_the_same_route(fake_llm):
    fake_llm.queue(throttled("2"), anthropic_text("ok"))
    sleeps = Sleeps()
    router = make_router(fake_llm, spec("m", ANTHROPIC), sleeps=sleeps)
    events = await drain(router, model="m")
    assert text_of(events) == "ok"
    assert sleeps.calls == [pytest.approx(2.05)]


async def test_when_every_route_is_throttled_the_error_is_typed_with_retry_after(fake_llm):
    fake_llm.queue(throttled("30"), Reply.error(429, {"error": {"message": "rate"}}, headers={"retry-after": "20"}))
    router = make_router(fake_llm, spec("primary", ANTHROPIC, fallbacks=("backup",)), spec("backup", OPENAI, mid=2))
    with pytest.raises(Throttled) as caught:
        await drain(router, model="primary")
    assert caught.value.retry_after == 20
    assert caught.value.model == "primary"


async def test_a_failure_after_output_started_is_an_error_event_never_a_finish(fake_llm):
    reply = anthropic_text("one two three four")
    reply.disconnect_after = 4
    fake_llm.queue(reply, anthropic_text("must not be used"))
    router = make_router(fake_llm, spec("m", ANTHROPIC, fallbacks=("b",)), spec("b", OPENAI, mid=2))
    events = await drain(router, model="m")
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].error_kind == "provider" and events[-1].model == "m" and events[-1].provider == "anthropic"
    assert not any(isinstance(e, Finish) for e in events)
    assert text_of(events) == "onetwo"
    assert len(fake_llm.requests) == 1, "no silent switch once output has streamed"


async def test_input_over_the_limit_is_refused_before_any_provider_call(fake_llm):
    router = make_router(fake_llm, spec("small", ANTHROPIC, limit=300))
    big = standard_request("small", messages=(Message.user("word " * 2000),))
    with pytest.raises(InputTokenLimitExceeded) as caught:
        async for _ in router.stream(big):
            pass
    assert caught.value.current > caught.value.maximum == 300
    assert fake_llm.requests == []


async def test_fallback_models_too_small_for_the_input_are_skipped(fake_llm):
    fake_llm.queue(throttled("30"), openai_text("big one"))
    router = make_router(
        fake_llm,
        spec("primary", ANTHROPIC, fallbacks=("tiny", "big"), limit=50_000),
        spec("tiny", OPENAI, mid=2, limit=300),
        spec("big", OPENAI, mid=3, limit=50_000),
    )
    request = standard_request("primary", messages=(Message.user("word " * 1000),))
    events = [e async for e in router.stream(request)]
    assert events[0].model == "big"


async def test_non_retryable_errors_surface_at_once_without_fallback(fake_llm):
    fake_llm.queue(
        Reply.error(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad tool schema"}})
    )
    router = make_router(fake_llm, spec("m", ANTHROPIC, fallbacks=("b",)), spec("b", OPENAI, mid=2))
    with pytest.raises(ProviderError, match="bad tool schema"):
        await drain(router, model="m")
    assert len(fake_llm.requests) == 1


async def test_a_route_that_rejects_credentials_hands_over_to_the_next_route(fake_llm):
    fake_llm.queue(
        Reply.error(401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}),
        openai_text("second route"),
    )
    router = make_router(fake_llm, spec("m", ANTHROPIC, OPENAI))
    events = await drain(router, model="m")
    assert (events[0].provider, text_of(events)) == ("openai", "second route")


async def test_a_silent_provider_times_out_and_is_retried(fake_llm):
    fake_llm.queue(Reply(hang_s=1.0, sse=[]), anthropic_text("awake"))
    router = make_router(fake_llm, spec("m", ANTHROPIC), first_event_timeout_s=0.3, idle_timeout_s=5.0)
    events = await drain(router, model="m")
    assert events[0].attempts == 2 and text_of(events) == "awake"


async def test_silence_after_output_started_ends_with_a_timeout_event(fake_llm):
    reply = anthropic_text("a b c d")
    reply.pauses = {4: 1.0}  # after two text deltas, the provider goes quiet
    fake_llm.queue(reply)
    router = make_router(fake_llm, spec("m", ANTHROPIC), idle_timeout_s=0.25, first_event_timeout_s=2.0)
    events = await drain(router, model="m")
    assert isinstance(events[-1], ErrorEvent) and events[-1].error_kind == "timeout"
    assert text_of(events) == "ab"


async def test_a_stream_that_outlives_the_call_limit_ends_with_a_timeout_event(fake_llm):
    reply = anthropic_text(" ".join(f"w{i}" for i in range(40)))
    reply.event_delay_s = 0.05  # never silent for long, but 40 events take ~2 s
    fake_llm.queue(reply)
    router = make_router(fake_llm, spec("m", ANTHROPIC), idle_timeout_s=0.5, call_timeout_s=0.6)
    events = await drain(router, model="m")
    assert isinstance(events[-1], ErrorEvent) and events[-1].error_kind == "timeout"
    assert events[-1].message == "the model call timed out"
    assert 3 <= sum(isinstance(e, TextDelta) for e in events) < 40
    assert not any(isinstance(e, Finish) for e in events)


async def test_a_slow_consumer_is_not_mistaken_for_a_silent_provider(fake_llm):
    fake_llm.queue(anthropic_text("a b c"))  # all of it arrives at once
    router = make_router(fake_llm, spec("m", ANTHROPIC), idle_timeout_s=0.1)
    events = []
    async for event in router.stream(standard_request("m")):
        events.append(event)
        await asyncio.sleep(0.15)  # longer than the idle limit, on our side
    assert text_of(events) == "abc" and isinstance(events[-1], Finish)


async def test_cancelling_a_waiting_consumer_is_a_cancellation_not_a_timeout(fake_llm):
    reply = anthropic_text("a b c d")
    reply.pauses = {3: 2.0}
    fake_llm.queue(reply)
    router = make_router(fake_llm, spec("m", ANTHROPIC), idle_timeout_s=0.3)
    seen: list = []
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in router.stream(standard_request("m")):
            seen.append(event)
            if isinstance(event, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 10)  # now the provider pauses, for longer than the idle limit
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    await asyncio.sleep(0.5)  # the idle timer must not fire into a cancelled stream
    assert not any(isinstance(e, ErrorEvent) for e in seen)
    assert text_of(seen) == "a"


async def test_closing_the_stream_closes_the_provider_connection(fake_llm):
    reply = anthropic_text(" ".join(f"w{i}" for i in range(200)))
    reply.event_delay_s = 0.02
    fake_llm.queue(reply)
    router = make_router(fake_llm, spec("m", ANTHROPIC))
    stream = router.stream(standard_request("m"))
    seen = 0
    async for event in stream:
        seen += isinstance(event, TextDelta)
        if seen == 3:
            break
    await stream.aclose()
    assert await asyncio.to_thread(fake_llm.abandoned.wait, 3), "the provider must see the client hang up"


async def test_cancelling_the_consumer_task_closes_the_provider_stream(tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"responses": [{"text": "x" * 400, "chunk_chars": 1, "delay_ms": 20}]}))
    record = tmp_path / "record.jsonl"
    route = ModelRoute(provider="scripted", script_path=str(script), record_path=str(record))
    keys = keys_for("http://unused")
    router = LLMRouter(registry_of(keys, spec("s", route)), pool_for(keys), router_policy())
    started = asyncio.Event()

    async def consume() -> None:
        async for event in router.stream(standard_request("s")):
            if isinstance(event, TextDelta):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["request", "cancelled"]
    assert lines[1]["time"] - lines[0]["time"] < 1.0


async def test_timeouts_are_typed(fake_llm):
    fake_llm.queue(Reply(hang_s=1.0, sse=[]), Reply(hang_s=1.0, sse=[]))
    router = make_router(fake_llm, spec("m", ANTHROPIC), first_event_timeout_s=0.2, max_retries=1)
    with pytest.raises(LLMTimeout):
        await drain(router, model="m")
