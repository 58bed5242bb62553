"""The in-process fan-out of step frames is bounded per follower: a follower that stops reading costs at
most its queue's worth of memory, never slows the step, and later catches up from the Redis buffer, gap-free
and once each."""

from __future__ import annotations

import asyncio
import tracemalloc

import redis.asyncio as aioredis

from app.chat.step_stream import LiveHub, StepBuffer, StepEmitter, relay


def frame(seq: int, kind: str = "TEXT_BLOCK_DELTA") -> dict:
    return {"message_id": f"1000-{seq}", "data": {"type": kind, "content": {"text": "x" * 200}}}


def test_a_follower_that_never_reads_is_dropped_at_its_bound_and_the_producer_never_waits():
    hub = LiveHub(follower_limit=64)
    stalled = hub.follow("s")
    reader = hub.follow("s")
    tracemalloc.start()
    try:
        for seq in range(20_000):
            hub.publish("s", [frame(seq)])  # synchronous: there is nothing the producer could wait on
            while reader.frames:
                reader.frames.popleft()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stalled.dropped and len(stalled.frames) == 0, "dropped, its queued frames released"
    assert hub.followers["s"] == {reader}, "the reading follower is still served live"
    assert not reader.dropped
    # 20 000 frames of 200 characters would be ~6 MB held for the stalled follower; the bound keeps it small.
    assert peak < 1_000_000, peak


def test_a_batch_that_would_overflow_drops_the_follower_rather_than_queueing_past_the_bound():
    hub = LiveHub(follower_limit=16)
    follower = hub.follow("s")
    hub.publish("s", [frame(i) for i in range(10)])
    assert len(follower.frames) == 10
    hub.publish("s", [frame(i) for i in range(10, 20)])
    assert follower.dropped and not follower.frames and "s" not in hub.followers


async def test_a_stalled_local_relay_catches_up_from_the_buffer_without_gaps_or_duplicates(redis_url):
    redis = aioredis.Redis.from_url(redis_url)
    buffer = StepBuffer(redis, "hubtest:")
    hub = LiveHub(follower_limit=32)
    emitter = StepEmitter("stalled", buffer, hub, start_ms=5000)
    emitter.emit("TEXT_BLOCK_START")
    await emitter.drain()
    unblocked = asyncio.Event()
    received: list[dict] = []

    async def slow_send(sent: dict) -> None:
        await unblocked.wait()  # a socket whose client stopped reading
        received.append(sent)

    follower_task = asyncio.create_task(relay("stalled", None, slow_send, buffer=buffer, hub=hub, local=True))
    try:
        await asyncio.sleep(0.05)
        assert len(hub.followers["stalled"]) == 1
        for index in range(500):
            emitter.emit("TEXT_BLOCK_DELTA", {"text": f"piece {index} "})
            if index % 50 == 0:
                await emitter.drain()
                queued = [len(f.frames) for f in hub.followers.get("stalled", ())]
                assert all(n <= 32 for n in queued), queued
        emitter.emit("STREAM_END")
        await emitter.drain()
        assert "stalled" not in hub.followers, "the stalled follower was dropped to the durable path"
        unblocked.set()
        await asyncio.wait_for(follower_task, timeout=10)
    finally:
        follower_task.cancel()
        await redis.delete(buffer.key("stalled"))
        await redis.aclose()
    ids = [f["message_id"] for f in received]
    assert ids == [f"5000-{seq}" for seq in range(502)], "every frame, in order, once"
    assert received[-1]["data"]["type"] == "STREAM_END"


async def test_a_cancel_still_silences_a_follower_that_reads(redis_url):
    redis = aioredis.Redis.from_url(redis_url)
    buffer = StepBuffer(redis, "hubtest:")
    hub = LiveHub(follower_limit=32)
    emitter = StepEmitter("cancelled", buffer, hub, start_ms=6000)
    received: list[dict] = []

    async def send(sent: dict) -> None:
        received.append(sent)

    task = asyncio.create_task(relay("cancelled", None, send, buffer=buffer, hub=hub, local=True))
    try:
        await asyncio.sleep(0.05)
        emitter.emit("TEXT_BLOCK_DELTA", {"text": "a"})
        await emitter.drain()
        await asyncio.sleep(0.05)
        hub.close("cancelled")
        await asyncio.wait_for(task, timeout=5)
    finally:
        task.cancel()
        await redis.delete(buffer.key("cancelled"))
        await redis.aclose()
    assert [f["message_id"] for f in received] == ["6000-0"]
