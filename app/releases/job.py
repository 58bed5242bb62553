"""The `release_notes.generate` job: release notes of a range of a team's indexed repository, stored as a draft.

The job's id keys its notes (`release_notes.job_id`): a delivery of a job that already wrote them finds them
and writes nothing. A range that cannot be described (an unknown ref, a refused remote) fails the job at once,
with the reason, since trying again would fail the same way.

A worker process has no chat machinery, so the job builds what it needs from the settings on first use: the
model router (for the optional model passes) and the team's connections (for pull-request labels).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from app.db.repositories import code as code_store
from app.db.repositories import release_notes as store
from app.db.wire_types import WireStr
from app.errors import AdjutantError, JobFailedPermanently
from app.integrations.clients import client_for
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.jobs.interface import Job, JobHandlers
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.releases.model import ReleaseModel, release_model
from app.releases.pull_requests import enricher
from app.releases.render import render
from app.releases.service import ModelUse, RangeRequest, collect_facts, write_notes
from app.releases.sources import history_of
from app.releases.voice import Voice
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings
from app.search.service import SearchService

KIND = "release_notes.generate"
log = logging.getLogger("adjutant.releases")


class ScmSource(BaseModel):
    connection: WireStr = Field(min_length=1, max_length=200, description="A GitHub or GitLab connection of the team.")
    repo: WireStr = Field(min_length=3, max_length=300, description="The repository there: owner/name, group/project.")


class GeneratePayload(BaseModel):
    repository_id: int
    from_ref: str | None = None
    to_ref: str = "HEAD"
    path: str | None = None
    tag_pattern: str | None = None
    version: str | None = None
    use_model: bool = True
    scm: ScmSource | None = None
    requested_by: int | None = None


class ReleaseNoteJobs:
    def __init__(self, settings: Settings, search: SearchService, *, redis: Any | None = None) -> None:
        self.settings = settings
        self.redis = redis  # shared with the worker: rate-limit pauses and ETags seen by every process
        self.search = search
        self.voice = Voice(search)
        self._model: ReleaseModel | None = None
        self._model_built = False
        self._connections: Connections | None = None

    def model(self) -> ReleaseModel | None:
        if not self._model_built:
            registry = ModelRegistry(self.settings.llm, self.settings.providers)
            pool = ProviderPool(self.settings.providers, self.settings.llm.router)
            self._model = release_model(self.settings, registry, LLMRouter(registry, pool, self.settings.llm.router))
            self._model_built = True
        return self._model

    def connections(self) -> Connections:
        if self._connections is None:
            runtime = IntegrationRuntime(
                self.settings.integrations, redis=self.redis, key_prefix=self.settings.redis.key_prefix
            )
            self._connections = Connections(load_secret_box(self.settings), runtime)
        return self._connections

    async def handle(self, job: Job) -> dict[str, Any]:
        payload = GeneratePayload.model_validate(job.payload)
        done = await store.by_job(job.id)
        if done is not None:
            return {"release_note_id": done.id, "status": done.status}
        repo = await code_store.repository(payload.repository_id)
        if repo is None or repo.team_id != job.team_id:
            raise JobFailedPermanently("the repository is no longer there")
        try:
            return await self._generate(job, payload, repo)
        except AdjutantError as exc:
            raise JobFailedPermanently(exc.detail) from exc

    async def _generate(self, job: Job, payload: GeneratePayload, repo: Any) -> dict[str, Any]:
        section = self.settings.release_notes
        history = await history_of(repo, self.search, timeout_s=section.git_timeout_s)
        found = self.model() if payload.use_model else None
        request = RangeRequest(payload.from_ref, payload.to_ref, payload.path, payload.tag_pattern, payload.version)
        client = None
        try:
            enrich = None
            if payload.scm is not None:
                connection = await self.connections().connection(job.team_id, payload.scm.connection)
                client = client_for(connection, self.connections().runtime)
                enrich = enricher(client, payload.scm.repo)
            facts = await collect_facts(
                history,
                request,
                name=repo.name,
                ask=found.ask if found is not None and section.classify_with_model else None,
                enrich=enrich,
            )
        finally:
            if client is not None:
                await client.aclose()
        model = None
        if found is not None:
            examples: list[str] = []
            if section.polish:
                examples = await self.voice.examples(
                    job.team_id, repo.id, render(facts, "external"), limit=section.voice_examples
                )
            model = ModelUse(
                found.ask, found.name, classify=section.classify_with_model, polish=section.polish, examples=examples
            )
        notes = await write_notes(facts, model)
        release = facts.range
        note, created = await store.create(
            team_id=job.team_id,
            job_id=job.id,
            repository_id=repo.id,
            requested_by_id=payload.requested_by,
            from_ref=release.from_ref,
            to_ref=release.to_ref,
            from_sha=release.from_sha,
            to_sha=release.to_sha,
            path_scope=release.path,
            tag_pattern=release.tag_pattern,
            version=(release.version or "")[: store.VERSION_TEXT] or None,
            internal_md=notes.internal,
            external_md=notes.external,
            facts=facts.to_json(),
            generator=notes.generator,
            model=notes.model,
            polish_reason=notes.polish_reason,
        )
        log.info("release notes %s of repository %s: %d changes", note.id, repo.id, len(facts.changes))
        return {"release_note_id": note.id, "status": note.status, "changes": len(facts.changes), "created": created}


def register(handlers: JobHandlers, settings: Settings, search: SearchService, *, redis: Any | None = None) -> None:
    jobs = ReleaseNoteJobs(settings, search, redis=redis)
    handlers.register(
        KIND, jobs.handle, max_attempts=3, timeout_s=max(settings.jobs.default_timeout_s, 900.0), concurrency=2
    )
