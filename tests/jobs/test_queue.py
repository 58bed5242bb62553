"""The Redis job queue: a job whose worker dies is reclaimed by another, but only up to the delivery cap;
then it is given up, its owner records why, and it leaves the stream's pending list."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import redis.asyncio as aioredis

from app.db.models import Repository
from app.db.repositories import code as store
from app.db.repositories.identity import get_or_create_team
from app.jobs.queue import GROUP, JobQueue
from app.search.index_job import KIND, IndexJobs, job_payload
from app.search.service import SearchService

FAST = {"reclaim_after_s": 0.2, "block_ms": 50}


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


class DyingWorkers:
    """Handlers that never finish: each worker is stopped mid-job, as a crash (kill -9, OOM) would."""

    def __init__(self) -> None:
        self.runs = 0
        self.started = asyncio.Event()

    async def handler(self, payload):
        self.runs += 1
        self.started.set()
        await asyncio.Event().wait()

    async def crash_one(self, queue: JobQueue) -> None:
        self.started.clear()
        await queue.start()
        async with asyncio.timeout(10):
            await self.started.wait()
        await queue.stop()  # the entry stays pending, unacknowledged


async def run_until(condition, timeout_s=10.0):
    """Poll `condition` (a function, sync or async) until it holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            held = condition()
            if await held if inspect.isawaitable(held) else held:
                return
            await asyncio.sleep(0.05)


async def test_a_job_that_kills_every_worker_is_given_up_after_the_cap(redis):
    workers = DyingWorkers()
    given_up = []

    async def give_up(payload, deliveries):
        given_up.append((payload, deliveries))

    def worker() -> JobQueue:
        queue = JobQueue(redis, "adj:", max_deliveries=3, **FAST)
        queue.register("poison", workers.handler, on_give_up=give_up)
        return queue

    first = worker()
    await first.enqueue("poison", {"n": 1})
    for _ in range(3):  # the first delivery and two reclaims, each ending in a dead worker
        await workers.crash_one(worker())
    survivor = worker()
    await survivor.start()
    try:
        await run_until(lambda: bool(given_up))
        await run_until(lambda: _pending(redis, 0))
    finally:
        await survivor.stop()
    assert workers.runs == 3, "no fourth attempt"
    assert given_up == [({"n": 1}, 4)]


async def test_a_job_that_fails_normally_is_acknowledged_once(redis):
    runs = []

    async def failing(payload):
        runs.append(payload)
        raise RuntimeError("deterministic failure")

    queue = JobQueue(redis, "adj:", max_deliveries=3, **FAST)
    queue.register("flaky", failing)
    await queue.start()
    try:
        await queue.enqueue("flaky", {"n": 1})
        await run_until(lambda: bool(runs))
        await run_until(lambda: _pending(redis, 0))
        await asyncio.sleep(0.5)  # past the reclaim time: nothing comes back
    finally:
        await queue.stop()
    assert runs == [{"n": 1}]


async def test_an_index_job_given_up_fails_its_repository_with_the_reason(db, redis, settings):
    team = await get_or_create_team("core")
    repo, claimed = await store.claim_index_job(
        team_id=team.id, name="shop", source="/nowhere", source_kind="local", force=False
    )
    assert claimed
    jobs = IndexJobs(SearchService(settings))
    workers = DyingWorkers()

    def worker() -> JobQueue:
        queue = JobQueue(redis, "adj:", max_deliveries=2, **FAST)
        queue.register(KIND, workers.handler, on_give_up=jobs.give_up)
        return queue

    await worker().enqueue(KIND, job_payload(repo.id, repo.index_job))
    for _ in range(2):
        await workers.crash_one(worker())
    survivor = worker()
    await survivor.start()
    try:
        await run_until(lambda: _status(repo.id, "FAILED"))
    finally:
        await survivor.stop()
    failed = await Repository.get(id=repo.id)
    assert "interrupted 2 times" in failed.error and "post the repository again" in failed.error
    assert await _pending(redis, 0)


async def test_a_superseded_index_job_does_nothing(db, settings, tmp_path):
    team = await get_or_create_team("core")
    repo, _ = await store.claim_index_job(
        team_id=team.id, name="shop", source=str(tmp_path), source_kind="local", force=False
    )
    stale = repo.index_job
    await Repository.filter(id=repo.id).update(status="INDEXING")  # its job seems lost: a forced re-post
    repo, claimed = await store.claim_index_job(
        team_id=team.id, name="shop", source=str(tmp_path), source_kind="local", force=True
    )
    assert claimed and repo.index_job != stale
    jobs = IndexJobs(SearchService(settings))
    await jobs.run(job_payload(repo.id, stale))
    await jobs.give_up(job_payload(repo.id, stale), 4)
    current = await Repository.get(id=repo.id)
    assert (current.status, current.error, current.index_job) == ("PENDING", None, repo.index_job)


async def _pending(redis, count: int) -> bool:
    summary = await redis.xpending("adj:jobs", GROUP)
    return summary["pending"] == count


async def _status(repo_id: int, status: str) -> bool:
    return (await Repository.get(id=repo_id)).status == status
