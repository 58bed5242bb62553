"""Steps running in this worker, their liveness across workers, and cancellation from any worker.

Cancellation is immediate and in-process: the cancel route (on any worker) records the cancel in the
database and publishes the session id; every worker cancels the tasks of that session's running steps at
once. Nothing is sticky: steps started later are not affected (PROTOCOL §9).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.chat")
HEARTBEAT_S = 5
ALIVE_TTL_S = 20


@dataclass
class RunningStep:
    stream_id: str
    session_id: int
    fingerprint: str | None
    connection_id: str | None
    task: asyncio.Task[None] | None = None
    cancelled: bool = False
    on_cancel: Callable[[], None] | None = None  # runs synchronously, before the task is cancelled
    done: asyncio.Event = field(default_factory=asyncio.Event)


class RunningSteps:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.steps: dict[str, RunningStep] = {}
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def channel(self) -> str:
        return f"{self.prefix}cancel"

    def alive_key(self, stream_id: str) -> str:
        return f"{self.prefix}alive:{stream_id}"

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

    async def add(self, step: RunningStep) -> None:
        self.steps[step.stream_id] = step
        await self.redis.set(self.alive_key(step.stream_id), "1", ex=ALIVE_TTL_S)

    async def remove(self, stream_id: str) -> None:
        step = self.steps.pop(stream_id, None)
        if step is not None:
            step.done.set()
        await self.redis.delete(self.alive_key(stream_id))

    def local(self, stream_id: str) -> RunningStep | None:
        return self.steps.get(stream_id)

    async def is_alive(self, stream_id: str) -> bool:
        """Whether some worker is still running this step (its heartbeat key is fresh)."""
        return stream_id in self.steps or bool(await self.redis.exists(self.alive_key(stream_id)))

    def on_connection(self, connection_id: str, fingerprint: str) -> RunningStep | None:
        return next(
            (
                s
                for s in self.steps.values()
                if s.connection_id == connection_id and s.fingerprint == fingerprint and not s.cancelled
            ),
            None,
        )

    async def cancel_session(self, session_id: int) -> None:
        """Cancel the session's steps here now, and ask every other worker to do the same."""
        self.cancel_local(session_id)
        await self.redis.publish(self.channel, json.dumps({"session_id": session_id}))

    def cancel_local(self, session_id: int) -> int:
        count = 0
        for step in list(self.steps.values()):
            if step.session_id == session_id and not step.cancelled:
                step.cancelled = True
                if step.on_cancel is not None:
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
                        self.cancel_local(int(json.loads(message["data"])["session_id"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cancel listener lost Redis; reconnecting", exc_info=True)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                pubsub = None
                await asyncio.sleep(1)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for stream_id in list(self.steps):
                        pipe.set(self.alive_key(stream_id), "1", ex=ALIVE_TTL_S)
                    await pipe.execute()
            except Exception:
                log.warning("step heartbeat failed", exc_info=True)
