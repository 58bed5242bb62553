"""The `repository.reindex` job: index one of the team's repositories again from its recorded source (a git
URL is fetched anew). Teams schedule it (say, nightly); a repository already being indexed is left alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from app.db.repositories import code as store
from app.errors import Conflict, JobFailedPermanently
from app.jobs.interface import Job
from app.search import repositories
from app.search.service import NAME

KIND = "repository.reindex"


class ReindexPayload(BaseModel):
    repository: str = Field(pattern=NAME.pattern, description="The name of one of the team's repositories.")


class ReindexJobs:
    def __init__(self, queue: Callable[[], Any]) -> None:
        # The queue is built after the handlers that it checks enqueued kinds against: read it when a job runs.
        self.queue = queue

    async def handle(self, job: Job) -> dict[str, Any]:
        name = ReindexPayload.model_validate(job.payload).repository
        found = await store.repositories_named(job.team_id, [name])
        if not found:
            raise JobFailedPermanently(f"the team has no repository named {name!r}")
        repo = found[0]
        try:
            claimed = await repositories.register(
                self.queue(),
                team_id=job.team_id,
                name=repo.name,
                source=repo.source,
                source_kind=repo.source_kind,
                force=False,
                source_credentials=repo.source_credentials,
            )
        except Conflict:
            return {"repository": name, "skipped": "an index job is already queued or running"}
        return {"repository": name, "index_job": claimed.index_job}
