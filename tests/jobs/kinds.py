"""Job kinds of the job suite, with what they did kept in Redis so that a worker in another process reports
to the test as well: runs (one entry per attempt started), effects (counted once per idempotency key) and
concurrency peaks."""

from __future__ import annotations

import asyncio
import json
import os
import time

import redis.asyncio as aioredis
from pydantic import BaseModel

from app.errors import JobFailedPermanently
from app.jobs.backoff import Backoff
from app.jobs.interface import Job, JobHandlers

RUNS = "test:runs"  # list of JSON {job, team, seq, attempt, pid, start, end}
EFFECTS = "test:effects"
DEAD = "test:dead"
FAST = Backoff(initial_s=0.05, max_s=0.2)


class TickPayload(BaseModel):
    label: str


class SuiteKinds:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def _ran(self, job: Job, start: float, **extra: object) -> None:
        entry = {
            "job": job.id,
            "team": job.team_id,
            "seq": job.payload.get("seq"),
            "attempt": job.attempt,
            "pid": os.getpid(),
            "start": start,
            "end": time.time(),
            **extra,
        }
        await self.redis.rpush(RUNS, json.dumps(entry))

    async def record(self, job: Job) -> dict[str, object]:
        """Takes `sleep_s`, and records when it ran."""
        start = time.time()
        await asyncio.sleep(float(job.payload.get("sleep_s", 0)))
        await self._ran(job, start)
        return {"seq": job.payload.get("seq")}

    async def flaky(self, job: Job) -> None:
        """Fails its first `failures` attempts."""
        start = time.time()
        await self._ran(job, start)
        if job.attempt <= int(job.payload["failures"]):
            raise RuntimeError(f"attempt {job.attempt} failed on purpose")

    async def doomed(self, job: Job) -> None:
        await self._ran(job, time.time())
        raise ConnectionError("cannot reach https://deploy:s3cr3t-t0ken@git.example.com/shop.git")

    async def hopeless(self, job: Job) -> None:
        await self._ran(job, time.time())
        raise JobFailedPermanently("the repository is gone")

    async def effect(self, job: Job) -> None:
        """Idempotent: its effect (a counter) happens once per job however often it runs. With `hang_first`,
        its first attempt then hangs, as a job does when its worker is killed."""
        await self._ran(job, time.time())
        if await self.redis.set(f"test:effect:{job.idempotency_key}", b"1", nx=True):
            await self.redis.incr(EFFECTS)
        if job.payload.get("hang_first") and job.attempt == 1:
            await asyncio.Event().wait()

    async def slow(self, job: Job) -> None:
        """Sleeps `sleep_s`, unless the test said `test:fast` (the next worker's runs are quick)."""
        start = time.time()
        if not await self.redis.exists("test:fast"):
            await asyncio.sleep(float(job.payload.get("sleep_s", 0)))
        await self._ran(job, start)

    async def died(self, job: Job, error: str) -> None:
        await self.redis.rpush(DEAD, json.dumps({"job": job.id, "attempt": job.attempt, "error": error}))

    def register(self, handlers: JobHandlers) -> JobHandlers:
        handlers.register("test.record", self.record, max_attempts=2, concurrency=16)
        handlers.register("test.tick", self.record, schedulable=True, payload_model=TickPayload)
        handlers.register("test.flaky", self.flaky, max_attempts=4, backoff=FAST)
        handlers.register("test.doomed", self.doomed, max_attempts=3, backoff=FAST, on_dead=self.died)
        handlers.register("test.hopeless", self.hopeless, max_attempts=5, on_dead=self.died)
        handlers.register("test.effect", self.effect, max_attempts=3, on_dead=self.died)
        handlers.register("test.slow", self.slow, max_attempts=2, timeout_s=30)
        handlers.register("test.limited", self.record, concurrency=2)
        handlers.register("test.timeout", self.record, max_attempts=1, timeout_s=0.2, on_dead=self.died)
        return handlers


async def runs(redis: aioredis.Redis) -> list[dict]:
    return [json.loads(raw) for raw in await redis.lrange(RUNS, 0, -1)]
