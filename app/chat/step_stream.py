"""Durable step streams: every step's events go to a Redis stream (the resume buffer) and, once written,
straight to the connections of this worker that follow the step; connections on other workers (resume,
duplicate attach) replay from Redis and then tail it.

Redis stream entry ids *are* the protocol's message ids (`<step start epoch ms>-<seq>`), so resuming after
an offset is an exclusive range read and ordering is Redis's own.

Durable before visible: an event that could not be written is never shown. When the buffer cannot be
written the step must fail (`StepEmitter.raise_if_failed`), and its terminal frame alone is then shown
even if unbuffered, so the client always gets an end; a resume finds the outcome in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from app.chat.wire import is_terminal, message_order, utc_timestamp
from app.errors import StreamStoreUnavailable

FIELD = b"f"
RUNNING_TTL_S = 3600  # while a step runs, its buffer lives at least this long
DONE_TTL_S = 15 * 60  # after its terminal event (docs/protocol.md §8: at least 10 min)
MAX_EVENTS = 50_000  # bound on one step's buffer
TAIL_BLOCK_MS = 2_000  # well below redis-py's 5 s socket timeout, or a silent step fails its remote followers
# Frames written for a step by someone other than its runner (a worker settling it) sort after any of its own.
SETTLED_START_MS = 10**13


def unavailable(exc: Exception) -> StreamStoreUnavailable:
    return StreamStoreUnavailable(f"the stream store is unavailable ({exc.__class__.__name__})")


class StepBuffer:
    """The Redis side: append, read after an offset, tail. Redis failures raise StreamStoreUnavailable."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, stream_id: str) -> str:
        return f"{self.prefix}step:{stream_id}"

    async def append(self, stream_id: str, frames: list[dict[str, Any]], *, check_key: str | None = None) -> bool:
        """Write frames in one round trip; returns whether `check_key` exists (a cancel waiting for the step)."""
        key = self.key(stream_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for frame in frames:
                    pipe.xadd(
                        key,
                        {FIELD: json.dumps(frame, separators=(",", ":"))},
                        id=frame["message_id"],
                        maxlen=MAX_EVENTS,
                        approximate=True,
                    )
                pipe.expire(key, DONE_TTL_S if any(is_terminal(f) for f in frames) else RUNNING_TTL_S)
                if check_key is not None:
                    pipe.exists(check_key)
                replies = await pipe.execute()
        except RedisError as exc:
            raise unavailable(exc) from exc
        return bool(replies[-1]) if check_key is not None else False

    async def append_ending(self, stream_id: str, frames: list[dict[str, Any]]) -> bool:
        """Write the ending of a step written by someone other than its runner, all or nothing; False if
        another worker wrote it first (the ids are fixed, so the second write is refused)."""
        key = self.key(stream_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for frame in frames:
                    pipe.xadd(key, {FIELD: json.dumps(frame, separators=(",", ":"))}, id=frame["message_id"])
                pipe.expire(key, DONE_TTL_S)
                replies = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise unavailable(exc) from exc
        refused = [r for r in replies if isinstance(r, ResponseError)]
        return not refused

    async def exists(self, stream_id: str) -> bool:
        try:
            return bool(await self.redis.exists(self.key(stream_id)))
        except RedisError as exc:
            raise unavailable(exc) from exc

    async def has_id(self, stream_id: str, message_id: str) -> bool:
        try:
            return bool(await self.redis.xrange(self.key(stream_id), min=message_id, max=message_id, count=1))
        except RedisError as exc:
            raise unavailable(exc) from exc

    async def read_after(self, stream_id: str, after: str | None) -> list[dict[str, Any]]:
        start = f"({after}" if after else "-"
        try:
            entries = await self.redis.xrange(self.key(stream_id), min=start, max="+")
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [json.loads(fields[FIELD]) for _, fields in entries]

    async def last(self, stream_id: str) -> dict[str, Any] | None:
        try:
            entries = await self.redis.xrevrange(self.key(stream_id), max="+", min="-", count=1)
        except RedisError as exc:
            raise unavailable(exc) from exc
        return json.loads(entries[0][1][FIELD]) if entries else None

    async def tail(self, stream_id: str, after: str) -> AsyncIterator[dict[str, Any]]:
        """Frames after `after`, blocking for new ones, until a terminal frame or the buffer vanishes."""
        key = self.key(stream_id)
        cursor = after
        while True:
            try:
                reply = await self.redis.xread({key: cursor}, block=TAIL_BLOCK_MS, count=500)
                if not reply and not await self.redis.exists(key):
                    return
            except RedisError as exc:
                raise unavailable(exc) from exc
            if not reply:
                continue
            for entry_id, fields in reply[0][1]:
                cursor = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                frame = json.loads(fields[FIELD])
                yield frame
                if is_terminal(frame):
                    return


class Follower:
    """One connection's in-memory queue of a step's frames, bounded: a follower that falls `limit` frames
    behind is dropped from the hub and catches up from the buffer instead (`relay`), so a stalled socket
    costs at most `limit` frames of memory and the producer never waits for it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.frames: deque[dict[str, Any]] = deque()
        self.ready = asyncio.Event()
        self.closed = False  # the step was cancelled
        self.dropped = False  # fell too far behind; what it missed is in the buffer

    def offer(self, frames: list[dict[str, Any]]) -> bool:
        """Queue frames; False (and everything queued discarded) if that would exceed the limit."""
        if len(self.frames) + len(frames) > self.limit:
            self.frames.clear()
            self.dropped = True
            self.ready.set()
            return False
        self.frames.extend(frames)
        if frames:
            self.ready.set()
        return True

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    async def next(self) -> dict[str, Any] | None:
        """The next frame; None once the follower is closed or dropped."""
        while not self.frames:
            if self.closed or self.dropped:
                return None
            self.ready.clear()
            await self.ready.wait()
        return None if self.closed else self.frames.popleft()


class LiveHub:
    """In-process fan-out of frames already written to the buffer, to this worker's followers."""

    def __init__(self, follower_limit: int = 1024) -> None:
        self.follower_limit = follower_limit
        self.followers: dict[str, set[Follower]] = {}
        self.silenced: set[str] = set()
        self.unpublished: set[str] = set()  # steps started here that have published nothing yet

    def follow(self, stream_id: str) -> Follower:
        follower = Follower(self.follower_limit)
        self.followers.setdefault(stream_id, set()).add(follower)
        return follower

    def unfollow(self, stream_id: str, follower: Follower) -> None:
        followers = self.followers.get(stream_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self.followers[stream_id]

    def expect(self, stream_id: str) -> None:
        """A step is about to start here: until it publishes, followers need not read its buffer."""
        self.unpublished.add(stream_id)

    def publish(self, stream_id: str, frames: list[dict[str, Any]]) -> None:
        if frames:
            self.unpublished.discard(stream_id)
        for follower in list(self.followers.get(stream_id, ())):
            if not follower.offer(frames):
                self.unfollow(stream_id, follower)

    def close(self, stream_id: str) -> None:
        """The step was cancelled: followers stop at once, dropping frames still queued for them."""
        self.silenced.add(stream_id)
        for follower in self.followers.get(stream_id, ()):
            follower.close()

    def is_silenced(self, stream_id: str) -> bool:
        return stream_id in self.silenced

    def has_published(self, stream_id: str) -> bool:
        return stream_id not in self.unpublished

    def forget(self, stream_id: str) -> None:
        self.silenced.discard(stream_id)
        self.unpublished.discard(stream_id)


# Frames that stream content in small pieces: worth holding a moment to write several in one round trip.
DELTAS = frozenset({"TEXT_DELTA", "THINKING_BLOCK_DELTA", "CODE_BLOCK_DELTA", "TOOL_USE_REQUEST_DELTA"})


class StepEmitter:
    """Numbers a step's events and writes them: buffer first, then live followers, in batches.

    `emit` never waits for Redis; a background flusher writes whatever accumulated in one pipeline and
    then publishes it, so events reach followers in order, only after they are durable, and a fast
    producer costs one round trip per batch rather than per event. Each batch also checks `cancel_key`:
    a cancel that reached no worker directly is seen at the step's next batch.

    Deltas are coalesced on a timer: a batch of deltas is written at most once per `flush_window_s`, so
    a model sending a token every 25 ms costs a round trip per window rather than per token. The first
    delta after anything else goes at once (the first token is never held), and any other frame (a block
    boundary, a tool request, an ending) writes everything pending immediately, as does `drain`, which
    every ending, failure and cancel passes through: what was emitted is never left unwritten.
    """

    def __init__(
        self,
        stream_id: str,
        buffer: StepBuffer,
        hub: LiveHub,
        start_ms: int | None = None,
        *,
        cancel_key: str | None = None,
        on_cancel_requested: Callable[[], None] | None = None,
        flush_window_s: float = 0.0,
    ) -> None:
        self.stream_id = stream_id
        self.buffer = buffer
        self.hub = hub
        self.start_ms = start_ms or int(time.time() * 1000)
        self.cancel_key = cancel_key
        self.on_cancel_requested = on_cancel_requested
        self.flush_window_s = flush_window_s
        self.sequence = 0
        self.pending: list[tuple[dict[str, Any], bool]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.failure: StreamStoreUnavailable | None = None
        self.writes = 0
        self._urgent = asyncio.Event()
        self._deltas_written_at = float("-inf")

    def emit(
        self, kind: str, content: dict[str, Any] | None = None, *, live: bool = True, **data: Any
    ) -> dict[str, Any]:
        """Queue one step event; `live=False` buffers it for resumes without showing it to followers."""
        body: dict[str, Any] = {"type": kind, **data}
        if content is not None:
            body["content"] = content
        frame = {"message_id": f"{self.start_ms}-{self.sequence}", "data": body, "stream_timestamp": utc_timestamp()}
        self.sequence += 1
        self.pending.append((frame, live))
        if kind not in DELTAS:
            self._urgent.set()
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return frame

    def raise_if_failed(self) -> None:
        """The step cannot go on once its events cannot be buffered: it must fail (and say so)."""
        if self.failure is not None:
            raise self.failure

    async def _hold(self) -> None:
        """Wait, while only deltas are pending, until a window has passed since deltas were last written."""
        if self.flush_window_s <= 0 or self._urgent.is_set():
            return
        loop = asyncio.get_running_loop()
        delay = self._deltas_written_at + self.flush_window_s - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._urgent.wait()

    async def _flush(self) -> None:
        while self.pending:
            await self._hold()
            batch, self.pending = self.pending, []
            self._urgent.clear()
            self.writes += 1
            if any(frame["data"]["type"] in DELTAS for frame, _ in batch):
                self._deltas_written_at = asyncio.get_running_loop().time()
            frames = [frame for frame, _ in batch]
            if self.failure is not None:
                # After a lost write only the ending is still worth writing, and it is shown regardless:
                # followers must get an end, and the frames between were never shown to anyone.
                frames = [frame for frame in frames if is_terminal(frame)]
                if frames:
                    with contextlib.suppress(StreamStoreUnavailable):
                        await self.buffer.append(self.stream_id, frames)
                    self.hub.publish(self.stream_id, [f for f, live in batch if live and is_terminal(f)])
                continue
            try:
                cancel = await self.buffer.append(self.stream_id, frames, check_key=self.cancel_key)
            except StreamStoreUnavailable as exc:
                self.failure = exc
                self.hub.publish(self.stream_id, [f for f, live in batch if live and is_terminal(f)])
                continue
            self.hub.publish(self.stream_id, [frame for frame, live in batch if live])
            if cancel and self.on_cancel_requested is not None:
                self.on_cancel_requested()

    async def drain(self) -> None:
        """Wait until everything emitted so far is written and published (or given up on), now."""
        self._urgent.set()
        while self.flusher is not None and not self.flusher.done():
            await asyncio.shield(self.flusher)
        if self.pending:
            self._urgent.set()
            self.flusher = asyncio.create_task(self._flush())
            await self.flusher


def newer(frame: dict[str, Any], than: str | None) -> bool:
    return than is None or message_order(frame["message_id"]) > message_order(than)


async def relay(stream_id: str, after: str | None, send: Any, *, buffer: StepBuffer, hub: LiveHub, local: bool) -> None:
    """Send a step's frames after `after` to one connection, gap-free and once each, until its terminal
    frame. Frames already buffered when the relay starts are replayed as they are (a resume after a
    cancel ends with CANCELLED); a cancellation that happens while following is silent (docs/protocol.md §9).
    A local follower too slow for the hub's queue continues by tailing the buffer, like a remote one."""
    follower = hub.follow(stream_id) if local else None
    # A local step that has published nothing yet will publish everything to this follower (it follows
    # before any await): the buffer holds nothing to replay, so skip reading it.
    fresh = follower is not None and after is None and not hub.has_published(stream_id)
    last = after
    try:
        for frame in [] if fresh else await buffer.read_after(stream_id, after):
            await send(frame)
            last = frame["message_id"]
            if is_terminal(frame):
                return
        if follower is not None:
            while (frame := await follower.next()) is not None:
                if hub.is_silenced(stream_id):
                    return
                if not newer(frame, last):
                    continue
                await send(frame)
                last = frame["message_id"]
                if is_terminal(frame):
                    return
            if not follower.dropped or follower.closed or hub.is_silenced(stream_id):
                return
        async for frame in buffer.tail(stream_id, last or "0-0"):
            if frame["data"].get("status") == "CANCELLED":
                return
            await send(frame)
    finally:
        if follower is not None:
            hub.unfollow(stream_id, follower)
