"""A worker of the suite's job kinds in a process of its own, for the test that kills one with SIGKILL.

    python -m tests.jobs.worker_process   (DATABASE_URL, REDIS_URL and SUITE_JOBS_SETTINGS in the environment)

Prints "ready" once it consumes, then runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import os

import redis.asyncio as aioredis

from app.db.connection import open_database
from app.jobs.backends import job_backend, kind_defaults
from app.jobs.interface import JobHandlers
from app.jobs.worker import Worker
from app.runtime.config_loader import load_settings
from tests.jobs.kinds import SuiteKinds


async def main() -> None:
    jobs = json.loads(os.environ["SUITE_JOBS_SETTINGS"])
    settings = load_settings(
        environ={"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]},
        include_config_file=False,
        overrides={("jobs", key): value for key, value in jobs.items()},
    )
    await open_database(settings.database.url, settings.database)
    redis = aioredis.Redis.from_url(settings.redis.url)
    handlers = SuiteKinds(redis).register(JobHandlers(kind_defaults(settings)))
    backend = job_backend(settings, redis)
    await backend.start(handlers.names())
    worker = Worker(backend, handlers, settings.jobs)
    await worker.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
