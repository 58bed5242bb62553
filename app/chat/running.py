"""Steps running in this worker: their liveness across workers, and cancellation from any worker.

Liveness is one Redis key per step, refreshed every `heartbeat_s` and expiring `heartbeat_ttl_s` after the
last refresh. The key is claimed before the step's row is committed, so a RUNNING row without a key means
its worker is gone (or never got to run it), and any worker may then settle it (`app.chat.settle`).

Cancellation is decided by the database (the cancel route marks the steps CANCELLED) and then delivered,
fastest first: directly when the step runs here, by pub/sub to every worker, and durably, by a Redis key
the step checks with every batch of events it writes and by the database state every worker polls at each
heartbeat. A pub/sub message lost while a listener reconnects delays a cancel by one heartbeat at most.
Nothing is sticky: steps started later are not affected (docs/protocol.md §9).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.db.repositories import chat as repo
from app.errors import StreamStoreUnavailable
from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.chat")
CANCEL_KEY_TTL_S = 600  # longer than any step may still be catching up with its cancel
StopReason = Literal["cancelled", "settled"]


@dataclass
class RunningStep:
    stream_id: str
    session_id: int
    fingerprint: str | None
    connection_id: str | None
    task: asyncio.Task[None] | None = None
    # Why the task was stopped from outside: a user's cancel, or another worker having settled (ended) the
    # step. None while it runs on its own (a task cancelled with None is a worker shutting down).
    stopped: StopReason | None = None
    on_cancel: Callable[[], None] | None = None  # runs synchronously, before the task is cancelled
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Its runner is recording its ending: the row's conditional update decides between that ending and a
    # cancel, and the runner carries out whichever won, so nothing may stop it from outside any more.
    concluding: bool = False

    @property
    def cancelled(self) -> bool:
        return self.stopped == "cancelled"


class RunningSteps:
    def __init__(self, redis: aioredis.Redis, prefix: str, *, heartbeat_s: float, heartbeat_ttl_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self.steps: dict[str, RunningStep] = {}
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def channel(self) -> str:
        return f"{self.prefix}cancel"

    def alive_key(self, stream_id: str) -> str:
        return f"{self.prefix}alive:{stream_id}"

    def cancel_key(self, stream_id: str) -> str:
        return f"{self.prefix}cancelled:{stream_id}"

    async def start(self) -> None:
        # Subscribe before returning: redis-py can hang when a task is cancelled mid-subscribe, and a
        # service stopped right after it started would otherwise do exactly that.
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(pubsub), name="cancel-listener")
        self._heartbeat = asyncio.create_task(self._beat(), name="step-heartbeat")

    async def stop(self) -> None:
        for task in (self._listener, self._heartbeat):
            if task is not None:
                await stop_task(task)

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the steps running here to end on their own."""
        waiting = [step.done.wait() for step in self.steps.values()]
        if waiting:
            log.info("waiting for %d running step(s) before shutdown", len(waiting))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*waiting)

    # --- liveness ---------------------------------------------------------------------------------------

    async def claim(self, stream_id: str) -> None:
        """Mark a step alive before its row is committed; StreamStoreUnavailable when Redis is down, so
        nothing is committed that no worker could run or resume."""
        try:
            await self.redis.set(self.alive_key(stream_id), "1", px=self._ttl_ms())
        except RedisError as exc:
            raise StreamStoreUnavailable("the stream store is unavailable; nothing was saved, try again") from exc

    async def release(self, stream_id: str) -> None:
        """Give up a claim whose step was never committed or never launched."""
        try:
            await self.redis.delete(self.alive_key(stream_id))
        except RedisError:
            log.warning("could not release the claim of step %s; it expires on its own", stream_id)

    def add(self, step: RunningStep) -> None:
        self.steps[step.stream_id] = step

    async def remove(self, stream_id: str) -> None:
        step = self.steps.pop(stream_id, None)
        if step is not None:
            step.done.set()
        await self.release(stream_id)

    def local(self, stream_id: str) -> RunningStep | None:
        return self.steps.get(stream_id)

    async def is_alive(self, stream_id: str) -> bool:
        """Whether some worker is still running this step (its heartbeat key is fresh)."""
        if stream_id in self.steps:
            return True
        try:
            return bool(await self.redis.exists(self.alive_key(stream_id)))
        except RedisError as exc:
            raise StreamStoreUnavailable("the stream store is unavailable") from exc

    def on_connection(self, connection_id: str, fingerprint: str) -> RunningStep | None:
        return next(
            (
                s
                for s in self.steps.values()
                if s.connection_id == connection_id and s.fingerprint == fingerprint and s.stopped is None
            ),
            None,
        )

    # --- cancellation -------------------------------------------------------------------------------------

    async def cancel(self, stream_ids: list[str]) -> None:
        """Deliver a cancel the database has already decided: here now, elsewhere by pub/sub and durably."""
        self.stop_local(stream_ids, "cancelled")
        if not stream_ids:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for stream_id in stream_ids:
                    pipe.set(self.cancel_key(stream_id), "1", ex=CANCEL_KEY_TTL_S)
                pipe.publish(self.channel, json.dumps({"stream_ids": stream_ids}))
                await pipe.execute()
        except RedisError:
            # The database already says CANCELLED: the worker running the step reads it at its next beat.
            log.warning("could not publish the cancel of %s; it arrives with the next heartbeat", stream_ids)

    def stop_local(self, stream_ids: list[str], reason: StopReason) -> int:
        count = 0
        for stream_id in stream_ids:
            step = self.steps.get(stream_id)
            if step is None or step.stopped is not None or step.concluding:
                continue
            step.stopped = reason
            if step.on_cancel is not None and reason == "cancelled":
                step.on_cancel()
            if step.task is not None:
                step.task.cancel()
            count += 1
        return count

    async def _subscribe(self) -> PubSub:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)
        return pubsub

    async def _listen(self, pubsub: PubSub | None) -> None:
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._subscribe()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        body = json.loads(message["data"])
                        self.stop_local([str(s) for s in body.get("stream_ids", [])], "cancelled")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cancel listener lost Redis; reconnecting", exc_info=True)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                pubsub = None
                await asyncio.sleep(min(1.0, self.heartbeat_s))

    async def _beat(self) -> None:
        failing = {"redis": False, "database": False}  # an outage is logged once, not at every beat

        def trouble(what: str, exc: Exception) -> None:
            log.warning("step heartbeat: %s unavailable (%s)", what, exc, exc_info=not failing[what])
            failing[what] = True

        while True:
            await asyncio.sleep(self.heartbeat_s)
            stream_ids = list(self.steps)
            if not stream_ids:
                continue
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for stream_id in stream_ids:
                        pipe.set(self.alive_key(stream_id), "1", px=self._ttl_ms())
                        pipe.exists(self.cancel_key(stream_id))
                    replies = await pipe.execute()
                failing["redis"] = False
                self.stop_local([s for s, hit in zip(stream_ids, replies[1::2], strict=True) if hit], "cancelled")
            except RedisError as exc:
                trouble("redis", exc)
            try:
                ended = await repo.ended_steps(stream_ids)
                failing["database"] = False
            except Exception as exc:  # noqa: BLE001 - the database is away: the steps find out when they next write
                trouble("database", exc)
                continue
            for stream_id, status in ended.items():
                self.stop_local([stream_id], "cancelled" if status == "CANCELLED" else "settled")

    def _ttl_ms(self) -> int:
        return int(self.heartbeat_ttl_s * 1000)
