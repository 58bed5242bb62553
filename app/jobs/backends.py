"""The transport `jobs.backend` names, and the defaults job kinds inherit from the settings."""

from __future__ import annotations

import redis.asyncio as aioredis

from app.jobs.backoff import Backoff
from app.jobs.interface import JobBackend, KindDefaults
from app.runtime.settings import Settings


def job_backend(settings: Settings, redis: aioredis.Redis) -> JobBackend:
    if settings.jobs.backend == "kafka":
        from app.jobs.kafka_backend import KafkaBackend

        return KafkaBackend(settings.jobs)
    from app.jobs.redis_backend import RedisBackend

    return RedisBackend(redis, settings.redis.key_prefix, settings.jobs)


def kind_defaults(settings: Settings) -> KindDefaults:
    jobs = settings.jobs
    return KindDefaults(
        max_attempts=jobs.default_max_attempts,
        timeout_s=jobs.default_timeout_s,
        backoff=Backoff(initial_s=jobs.backoff_initial_s, max_s=jobs.backoff_max_s),
    )
