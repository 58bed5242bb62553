"""Agent steps running in this worker, and stopping them from any worker (docs/review-protocol.md §4.12, §6.4).

A cancel or a post-process first changes the database (the review is CANCELLED, or the run FAILED), which
already keeps any step from announcing its outcome. Stopping the step's model call then goes fastest first:
directly when it runs here, by Redis pub/sub to every other worker, and by each worker re-reading, every
`poll_s` while it runs steps, whether their reviews are still open (a pub/sub message lost while a listener
reconnects costs one poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.db.repositories import ide_review_runs as runs_repo
from app.db.repositories import ide_reviews as repo
from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.review")


@dataclass(frozen=True)
class StepRef:
    review_id: int
    run_id: int


class RunningReviews:
    def __init__(self, redis: aioredis.Redis, prefix: str, *, poll_s: float) -> None:
        self.redis = redis
        self.channel = f"{prefix}ide-review-stop"
        self.poll_s = poll_s
        self.steps: dict[asyncio.Task[object], StepRef] = {}
        self.stopped: set[asyncio.Task[object]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)  # before returning: a stop published right after start must arrive
        self._listener = asyncio.create_task(self._listen(pubsub), name="ide-review-stop-listener")
        self._poller = asyncio.create_task(self._poll(), name="ide-review-stop-poller")

    async def close(self) -> None:
        for task in (self._listener, self._poller):
            if task is not None:
                await stop_task(task)

    def track(self, ref: StepRef, task: asyncio.Task[object]) -> None:
        self.steps[task] = ref
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[object]) -> None:
        self.steps.pop(task, None)

    def settle(self, task: asyncio.Task[object]) -> bool:
        """Whether `task` ended because its review was cancelled or its run ended elsewhere (asked once, by the
        step's runner, after the task is done)."""
        if task in self.stopped:
            self.stopped.discard(task)
            return True
        return False

    async def drain(self, timeout_s: float) -> None:
        """Let the steps running here deliver their outcomes before the worker stops."""
        waiting = list(self.steps)
        if waiting:
            log.info("waiting for %d running review step(s) before shutdown", len(waiting))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.wait(waiting)

    async def stop(self, *, review_ids: Iterable[int] = (), run_ids: Iterable[int] = ()) -> None:
        """Stop the steps of these reviews and runs wherever they run; the database has already decided."""
        reviews, runs = sorted(set(review_ids)), sorted(set(run_ids))
        if not reviews and not runs:
            return
        self.stop_local(reviews, runs)
        try:
            await self.redis.publish(self.channel, json.dumps({"reviews": reviews, "runs": runs}))
        except RedisError:
            log.warning("could not publish the stop of reviews %s runs %s; polling catches it", reviews, runs)

    def stop_local(self, review_ids: Iterable[int], run_ids: Iterable[int]) -> int:
        reviews, runs = set(review_ids), set(run_ids)
        count = 0
        for task, ref in list(self.steps.items()):
            if (ref.review_id in reviews or ref.run_id in runs) and task not in self.stopped and not task.done():
                self.stopped.add(task)
                task.cancel()
                count += 1
        return count

    async def _listen(self, pubsub: PubSub | None) -> None:
        while True:
            try:
                if pubsub is None:
                    pubsub = self.redis.pubsub()
                    await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        body = json.loads(message["data"])
                        self.stop_local(
                            [int(r) for r in body.get("reviews", [])], [int(r) for r in body.get("runs", [])]
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("review stop listener lost Redis; reconnecting", exc_info=True)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                pubsub = None
                await asyncio.sleep(self.poll_s)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            refs = list(self.steps.values())
            if not refs:
                continue
            try:
                open_reviews = await repo.open_reviews_among(r.review_id for r in refs)
                live_runs = await runs_repo.unfinished_runs_among(r.run_id for r in refs)
            except Exception:
                log.warning("review stop poll: the database is unavailable", exc_info=True)
                continue
            self.stop_local(
                [r.review_id for r in refs if r.review_id not in open_reviews],
                [r.run_id for r in refs if r.run_id not in live_runs],
            )
