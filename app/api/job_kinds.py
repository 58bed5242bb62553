"""The job kinds this service runs, registered alike by `create_app` and by `adjutant worker`, so that any
process can enqueue any kind and any worker can run it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.feedback.job import FeedbackJobs
from app.jobs.backends import kind_defaults
from app.jobs.interface import JobHandlers
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import WebhookEvents
from app.knowledge import imports as knowledge_imports
from app.releases import job as release_notes_job
from app.review.notify.jobs import NotificationJobs
from app.review.pr.jobs import PullRequestReviewJobs
from app.runtime.settings import Settings
from app.search.crawl import job as crawl_job
from app.search.index_job import KIND as INDEX_JOB
from app.search.index_job import IndexJobs
from app.search.reindex_job import KIND as REINDEX_JOB
from app.search.reindex_job import ReindexJobs, ReindexPayload
from app.search.service import SearchService

# An index run that was cut off (its worker died) is tried again this often; one that failed is not.
INDEX_ATTEMPTS = 3


def job_handlers(
    settings: Settings,
    search: SearchService,
    webhook_events: WebhookEvents,
    queue: Callable[[], JobQueue],
    *,
    redis: Any | None = None,
) -> JobHandlers:
    """Every kind; `queue` gives the queue (built on these handlers) to kinds that enqueue others; `redis`
    (the process's client) is shared by the integration clients of the kinds that call services."""
    handlers = JobHandlers(kind_defaults(settings))
    index_jobs = IndexJobs(search)
    handlers.register(
        INDEX_JOB,
        index_jobs.handle,
        max_attempts=INDEX_ATTEMPTS,
        timeout_s=max(settings.jobs.default_timeout_s, settings.search.git_clone_timeout_s * 2),
        concurrency=2,
        on_dead=index_jobs.on_dead,
    )
    handlers.register(
        REINDEX_JOB, ReindexJobs(queue).handle, max_attempts=3, schedulable=True, payload_model=ReindexPayload
    )
    release_notes_job.register(handlers, settings, search, redis=redis)
    crawl_job.register(handlers, settings, search, queue, redis=redis)
    knowledge_imports.register(handlers, settings, search, queue, redis=redis)
    PullRequestReviewJobs(settings, redis=redis, queue=queue).register(handlers, webhook_events)
    FeedbackJobs(settings, redis=redis).register(handlers, webhook_events)
    NotificationJobs(settings, redis=redis).register(handlers)
    webhook_events.register_kinds(handlers)
    return handlers
