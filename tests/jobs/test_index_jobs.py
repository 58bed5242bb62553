"""Repository indexing on the job interface: a run cut off every time is given up and its repository says why;
a superseded or foreign job does nothing."""

from __future__ import annotations

import redis.asyncio as aioredis
from tortoise import Tortoise

from app.api.job_kinds import INDEX_ATTEMPTS, job_handlers
from app.db.models import JobRecord, Repository
from app.db.repositories import code as store
from app.db.repositories.identity import get_or_create_team
from app.jobs.backends import job_backend
from app.jobs.interface import Job
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import WebhookEvents
from app.jobs.worker import Worker
from app.search.index_job import KIND, IndexJobs, job_payload
from app.search.service import SearchService
from tests.conftest import make_settings
from tests.jobs.conftest import FAST_JOBS, eventually


async def test_an_index_job_whose_runs_were_all_cut_off_fails_its_repository_with_the_reason(
    db, database_url, redis_url
):
    settings = make_settings(database_url, redis_url, **FAST_JOBS)
    team = await get_or_create_team("core")
    repo, claimed = await store.claim_index_job(
        team_id=team.id, name="shop", source="/nowhere", source_kind="local", force=False
    )
    assert claimed
    redis = aioredis.Redis.from_url(redis_url)
    handlers = job_handlers(settings, SearchService(settings), WebhookEvents(), lambda: queue)
    backend = job_backend(settings, redis)
    queue = JobQueue(backend, handlers, max_payload_bytes=settings.jobs.max_payload_bytes)
    job = await queue.enqueue(KIND, job_payload(repo.id, repo.index_job), None, team.id)
    assert job.max_attempts == INDEX_ATTEMPTS
    # As its last worker left it, killed mid-index: every attempt started, the lease run out.
    await Tortoise.get_connection("default").execute_query(
        "UPDATE jobs SET status = 'RUNNING', attempts = max_attempts, worker = 'gone', "
        "lease_until = now() - interval '1 minute' WHERE id = $1",
        [job.id],
    )
    await Repository.filter(id=repo.id).update(status="INDEXING")
    worker = Worker(backend, handlers, settings.jobs, kinds=[KIND])
    await worker.start()
    try:
        failed = await eventually(lambda: _failed(repo.id))
    finally:
        await worker.drain(0)
        await redis.aclose()
    assert "interrupted 3 times" in failed.error and "post the repository again" in failed.error
    assert (await JobRecord.get(id=job.id)).status == "DEAD"


async def _failed(repo_id: int) -> Repository | None:
    repo = await Repository.get(id=repo_id)
    return repo if repo.status == "FAILED" else None


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


async def test_an_index_job_naming_another_teams_repository_does_nothing(db, settings, tmp_path):
    owner, intruder = await get_or_create_team("core"), await get_or_create_team("other")
    repo, _ = await store.claim_index_job(
        team_id=owner.id, name="shop", source=str(tmp_path), source_kind="local", force=False
    )
    job = Job(
        id=1,
        kind=KIND,
        team_id=intruder.id,
        payload=job_payload(repo.id, repo.index_job),
        attempt=1,
        max_attempts=3,
        idempotency_key="x",
    )
    assert await IndexJobs(SearchService(settings)).handle(job) == {"skipped": "no such repository"}
    assert (await Repository.get(id=repo.id)).status == "PENDING"
