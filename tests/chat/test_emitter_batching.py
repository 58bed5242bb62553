"""Step events are written to Redis coalesced on a short timer: deltas share round trips, but the first
delta is never held, any other event writes everything pending at once, and nothing emitted is lost or
reordered on the way to the buffer and the live followers."""

from __future__ import annotations

import asyncio
import time
import uuid

import redis.asyncio as aioredis

from app.chat.step_stream import LiveHub, StepBuffer, StepEmitter, relay

WINDOW_S = 0.04


async def emitter_on(redis_url: str, window_s: float = WINDOW_S) -> tuple[StepEmitter, StepBuffer, LiveHub]:
    buffer = StepBuffer(aioredis.Redis.from_url(redis_url), f"batch{uuid.uuid4().hex[:6]}:")
    hub = LiveHub()
    return StepEmitter(uuid.uuid4().hex, buffer, hub, start_ms=7000, flush_window_s=window_s), buffer, hub


async def test_deltas_a_model_sends_25_ms_apart_share_round_trips_and_arrive_complete_and_in_order(redis_url):
    emitter, buffer, hub = await emitter_on(redis_url)
    follower = hub.follow(emitter.stream_id)
    emitter.emit("TEXT_START")
    for n in range(40):
        emitter.emit("TEXT_DELTA", {"text": str(n)})
        await asyncio.sleep(0.025)
    emitter.emit("TEXT_BLOCK_END")
    await emitter.drain()
    stored = await buffer.read_after(emitter.stream_id, None)
    assert [f["message_id"] for f in stored] == [f"7000-{n}" for n in range(42)]
    assert [f["data"]["content"]["text"] for f in stored[1:-1]] == [str(n) for n in range(40)]
    live = [follower.frames.popleft() for _ in range(len(follower.frames))]
    assert live == stored, "followers get exactly what was buffered, in order"
    # One write per delta would be 41 or more; a 40 ms window over 1 s of deltas allows about 25.
    assert emitter.writes <= 30, emitter.writes
    await buffer.redis.aclose()


async def test_without_a_window_every_delta_is_its_own_write(redis_url):
    emitter, buffer, _ = await emitter_on(redis_url, window_s=0)
    for n in range(5):
        emitter.emit("TEXT_DELTA", {"text": str(n)})
        await asyncio.sleep(0.01)
    await emitter.drain()
    assert emitter.writes == 5
    await buffer.redis.aclose()


async def published_within(hub: LiveHub, stream_id: str, count: int, timeout_s: float) -> float:
    follower = hub.follow(stream_id)
    started = time.monotonic()
    while len(follower.frames) < count:
        assert time.monotonic() - started < timeout_s, f"only {len(follower.frames)} of {count} frames published"
        await asyncio.sleep(0.001)
    return time.monotonic() - started


async def test_the_first_delta_is_not_held_for_the_window(redis_url):
    emitter, buffer, hub = await emitter_on(redis_url, window_s=1.0)
    emitter.emit("STREAM_INITIALIZED")
    await emitter.drain()
    emitter.emit("TEXT_DELTA", {"text": "first"})
    assert await published_within(hub, emitter.stream_id, 1, timeout_s=0.5) < 0.5
    await buffer.redis.aclose()


async def test_an_ending_writes_the_held_deltas_at_once(redis_url):
    emitter, buffer, hub = await emitter_on(redis_url, window_s=1.0)
    emitter.emit("TEXT_DELTA", {"text": "a"})  # written at once: the first delta
    await emitter.drain()
    emitter.emit("TEXT_DELTA", {"text": "b"})  # held: a delta inside the window
    emitter.emit("TEXT_DELTA", {"text": "c"})
    await asyncio.sleep(0.05)
    assert len(await buffer.read_after(emitter.stream_id, None)) == 1, "b and c wait for the window"
    emitter.emit("STREAM_END")  # not a delta: everything pending goes now
    assert await published_within(hub, emitter.stream_id, 3, timeout_s=0.5) < 0.5
    kinds = [f["data"]["type"] for f in await buffer.read_after(emitter.stream_id, None)]
    assert kinds == ["TEXT_DELTA", "TEXT_DELTA", "TEXT_DELTA", "STREAM_END"]
    await buffer.redis.aclose()


async def test_drain_writes_held_deltas_without_waiting_for_the_window(redis_url):
    emitter, buffer, _ = await emitter_on(redis_url, window_s=5.0)
    emitter.emit("TEXT_DELTA", {"text": "a"})
    await emitter.drain()
    emitter.emit("TEXT_DELTA", {"text": "b"})
    started = time.monotonic()
    await emitter.drain()  # every ending, failure and cancel of a step passes through here
    assert time.monotonic() - started < 1.0
    assert len(await buffer.read_after(emitter.stream_id, None)) == 2
    await buffer.redis.aclose()


async def test_a_relay_of_a_fresh_local_step_gets_every_frame_without_reading_the_buffer(redis_url):
    emitter, buffer, hub = await emitter_on(redis_url)
    hub.expect(emitter.stream_id)
    sent: list[dict] = []

    async def send(frame: dict) -> None:
        sent.append(frame)

    follower = asyncio.create_task(relay(emitter.stream_id, None, send, buffer=buffer, hub=hub, local=True))
    await asyncio.sleep(0.01)
    emitter.emit("STREAM_INITIALIZED")
    emitter.emit("TEXT_DELTA", {"text": "x"})
    emitter.emit("STREAM_END")
    await emitter.drain()
    await asyncio.wait_for(follower, 2)
    assert [f["data"]["type"] for f in sent] == ["STREAM_INITIALIZED", "TEXT_DELTA", "STREAM_END"]
    # A late follower of the same step (it has published) replays from the buffer instead.
    late: list[dict] = []

    async def send_late(frame: dict) -> None:
        late.append(frame)

    await asyncio.wait_for(relay(emitter.stream_id, None, send_late, buffer=buffer, hub=hub, local=True), 2)
    assert late == sent
    await buffer.redis.aclose()
