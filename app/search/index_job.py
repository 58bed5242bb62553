"""The `index_repository` background job: index a repository row's source and record the outcome on the row.

A row names the one job it waits for (`index_job`); a job that is not that one was superseded (a forced
re-queue) and does nothing, so a stale delivery can neither index beside the current job nor fail it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from app.db.models import Repository
from app.db.repositories import code as store
from app.errors import AdjutantError, IndexingFailed, JobFailedPermanently
from app.jobs.interface import Job
from app.runtime.redaction import redact_url
from app.search import git_credentials
from app.search.git_remote import parse_git_url
from app.search.indexer import Progress
from app.search.service import SearchService

KIND = "index_repository"
log = logging.getLogger("adjutant.search")


def job_payload(repository_id: int, job: str | None) -> dict[str, Any]:
    return {"repository_id": repository_id, "job": job}


class IndexJobs:
    """Runs index jobs for the queue, and records the failure of one the queue gave up."""

    def __init__(self, service: SearchService) -> None:
        self.service = service

    async def handle(self, job: Job) -> dict[str, Any]:
        """The job handler. A failure is recorded on the row and not retried (indexing again would fail the
        same way); only an interrupted run (its worker died) is tried again."""
        repo = await store.repository(int(job.payload["repository_id"]))
        if repo is None or repo.team_id != job.team_id:
            return {"skipped": "no such repository"}
        try:
            await self.run(job.payload)
        except JobFailedPermanently:
            raise
        except Exception as exc:
            raise JobFailedPermanently(redact_url(f"{exc.__class__.__name__}: {exc}")) from exc
        final = await store.repository(repo.id)
        return {"repository_id": repo.id, "status": final.status if final else "deleted"}

    async def on_dead(self, job: Job, error: str) -> None:
        await self.give_up(job.payload, job.attempt)

    async def run(self, payload: dict[str, Any]) -> None:
        repo = await store.repository(int(payload["repository_id"]))
        if repo is None:
            return
        job = payload.get("job")
        if job is not None and repo.index_job != job:
            log.info("index job %s for repository %s was superseded; skipping it", job, repo.id)
            return
        saver = ProgressSaver(repo.id)
        try:
            if repo.source_kind == "git":
                await store.set_status(repo.id, "CLONING", error=None)
                await self._seal_legacy_credentials(repo)
                await self.service.index_git(
                    repo.source,
                    team_id=repo.team_id,
                    name=repo.name,
                    sealed_credentials=repo.source_credentials,
                    on_progress=saver,
                )
            else:
                await self.service.index_path(
                    Path(repo.source), team_id=repo.team_id, name=repo.name, on_progress=saver
                )
        except AdjutantError as exc:
            # An expected failure with a reason safe to show (a refused host, a failed clone, a cap).
            await saver.settle()
            await store.set_status(repo.id, "FAILED", error=redact_url(exc.detail)[:2000])
            log.info("indexing repository %s failed: %s", repo.id, exc.detail)
            raise JobFailedPermanently(redact_url(exc.detail)) from exc
        except Exception as exc:
            # The indexer records its own failures; this also covers what runs before it.
            await saver.settle()
            await store.set_status(repo.id, "FAILED", error=redact_url(f"{exc.__class__.__name__}: {exc}")[:2000])
            raise
        await saver.settle()

    async def _seal_legacy_credentials(self, repo: Repository) -> None:
        """Rows stored before credentials were sealed hold them in `source`: seal them and strip the URL now.
        Without a key they cannot be kept, so they are dropped and the job fails saying how to fix it."""
        try:
            url = parse_git_url(repo.source)
        except ValueError:
            return  # index_git refuses it with the reason
        if not git_credentials.has_credentials(url):
            return
        box = self.service.secret_box()
        sealed = None if box is None else git_credentials.seal(url, box, team_id=repo.team_id, name=repo.name)
        repo.source, repo.source_credentials = url.without_credentials(), sealed
        await store.replace_source(repo.id, source=repo.source, source_credentials=sealed)
        if sealed is None:
            raise IndexingFailed(
                "this repository's credentials were stored unencrypted and have been removed, as this server has no "
                "key to encrypt them: configure secrets.keys, then post the repository again with its git_url"
            )

    async def give_up(self, payload: dict[str, Any], attempts: int) -> None:
        """The job is DEAD: a row still waiting for it (its runs were all cut off) is FAILED, saying why."""
        await store.fail_index_job(
            int(payload["repository_id"]),
            payload.get("job"),
            f"indexing was interrupted {attempts} times (its worker stopped each time, e.g. out of memory) "
            "and is not retried; post the repository again to retry",
        )


class ProgressSaver:
    """Writes indexing progress to the repository row at most once a second, without blocking indexing."""

    def __init__(self, repo_id: int) -> None:
        self.repo_id = repo_id
        self.last = 0.0
        self.pending: set[asyncio.Task[object]] = set()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 1.0:
            return
        self.last = now
        task = asyncio.get_running_loop().create_task(store.save_progress(self.repo_id, progress.as_dict()))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def settle(self) -> None:
        """Wait for writes in flight, so a late one cannot overwrite the final status's progress."""
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
