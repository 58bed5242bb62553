"""Knowledge imports: asked for (checked, the source registered, a run recorded, a job queued), run (items read,
stored, progress saved on the run) and shown. A run is the `knowledge.import` job; the CLI runs one in place.

Another team's import or source answers exactly like one that does not exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from app.db.models import KnowledgeImport, KnowledgeSource
from app.db.ownership import parse_id
from app.db.repositories import knowledge as store
from app.db.repositories.chat import now
from app.errors import (
    AdjutantError,
    IntegrationRateLimited,
    IntegrationUnavailable,
    JobFailedPermanently,
    KnowledgeImportNotFound,
    KnowledgeSourceConflict,
)
from app.integrations.connections import Connections, connections_of
from app.jobs.interface import Job, JobHandlers
from app.jobs.queue import JobQueue
from app.knowledge.ingest import ImportStats, Ingest
from app.knowledge.sources import SNAPSHOT_KINDS, SourceReader
from app.knowledge.specs import ImportSpec
from app.runtime.redaction import redact_url
from app.runtime.settings import Settings
from app.search.service import SearchService

KIND = "knowledge.import"
SPEC = TypeAdapter(ImportSpec)
PROGRESS_EVERY_S = 1.0
log = logging.getLogger("adjutant.knowledge")


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def describe_source(source: KnowledgeSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "config": source.config,
        "document_count": source.document_count,
        "chunk_count": source.chunk_count,
        "created_at": _iso(source.created_at),
        "last_imported_at": _iso(source.last_imported_at),
    }


def describe_import(run: KnowledgeImport, source: KnowledgeSource | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "source": describe_source(source) if source is not None else None,
        "job_id": run.job_id,
        "progress": run.progress,
        "error": run.error,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


class KnowledgeImports:
    def __init__(
        self,
        reader: SourceReader,
        search: SearchService,
        *,
        queue: Callable[[], JobQueue] | None = None,
    ) -> None:
        self.reader = reader
        self.search = search
        self.settings = reader.settings
        self.queue = queue

    # --- asking -------------------------------------------------------------------------------------------

    async def request(
        self, team_id: int, user_id: int | None, spec: Any, *, local: bool = False, enqueue: bool = True
    ) -> tuple[KnowledgeImport, KnowledgeSource]:
        """Check the spec, register its source (the same name again is the same source) and record a run;
        queue its job unless the caller runs it (`enqueue=False`, the CLI). `local`: server paths anywhere."""
        name = spec.name or spec.default_name()
        existing = [s for s in await store.team_sources(team_id) if s.name == name]
        if existing and existing[0].kind != spec.kind:
            raise KnowledgeSourceConflict(f"a {existing[0].kind} source is already named {name!r}")
        await self.reader.check(team_id, spec, local=local)
        config = spec.model_dump(mode="json", exclude={"name"})
        source = await store.get_or_create_source(team_id=team_id, kind=spec.kind, name=name, config=config)
        run = await store.create_import(team_id=team_id, source_id=source.id, requested_by_id=user_id)
        if enqueue and self.queue is not None:
            job = await self.queue().enqueue(KIND, {"import_id": run.id}, f"knowledge-import-{run.id}", team_id)
            await store.update_import(run.id, job_id=job.id)
            run.job_id = job.id
        return run, source

    async def get(self, team_id: int, raw_id: Any) -> tuple[KnowledgeImport, KnowledgeSource | None]:
        import_id = parse_id(raw_id)
        run = None if import_id is None else await store.team_import(team_id, import_id)
        if run is None:
            raise KnowledgeImportNotFound("knowledge import not found")
        return run, await store.team_source(team_id, run.source_id)  # type: ignore[attr-defined]

    async def sources(self, team_id: int) -> list[KnowledgeSource]:
        return await store.team_sources(team_id)

    async def recent(self, team_id: int, limit: int = 20) -> list[tuple[KnowledgeImport, KnowledgeSource | None]]:
        runs = await store.team_imports(team_id, limit=limit)
        sources = await store.sources_by_id(team_id, [r.source_id for r in runs])  # type: ignore[attr-defined]
        return [(r, sources.get(r.source_id)) for r in runs]  # type: ignore[attr-defined]

    # --- running ------------------------------------------------------------------------------------------

    async def run(self, import_id: int, *, on_progress: Callable[[ImportStats], object] | None = None) -> ImportStats:
        """Read the source and store what it has; the run's row says RUNNING, then SUCCEEDED or FAILED."""
        run = await store.import_row(import_id)
        if run is None:
            raise KnowledgeImportNotFound("knowledge import not found")
        source = await store.team_source(run.team_id, run.source_id)  # type: ignore[attr-defined]
        if source is None:
            raise KnowledgeImportNotFound("the import's source is gone")
        spec = SPEC.validate_python(source.config | {"kind": source.kind})
        await store.update_import(run.id, status="RUNNING", started_at=now(), error=None)
        report: dict[str, Any] = {}
        last_saved = 0.0

        async def progress(stats: ImportStats) -> None:
            nonlocal last_saved
            if on_progress is not None:
                on_progress(stats)
            if time.monotonic() - last_saved >= PROGRESS_EVERY_S:
                last_saved = time.monotonic()
                await store.update_import(run.id, progress=stats.as_dict() | report)

        embedder = self.search.embedder()
        ingest = Ingest(
            team_id=run.team_id,
            source_id=source.id,
            embedder=embedder,
            max_chunk_chars=self.settings.knowledge.max_chunk_chars,
            max_items=self.settings.knowledge.max_items_per_import,
            on_progress=progress,
        )
        try:
            stats = await ingest.run(self.reader.items(run.team_id, spec, report), prune=spec.kind in SNAPSHOT_KINDS)
        except Exception as exc:
            detail = exc.detail if isinstance(exc, AdjutantError) else f"{exc.__class__.__name__}: {exc}"
            await store.update_import(
                run.id,
                status="FAILED",
                error=redact_url(detail)[:2000],
                finished_at=now(),
                progress=ingest.stats.as_dict() | report,
            )
            raise
        await store.update_import(
            run.id, status="SUCCEEDED", finished_at=now(), progress=stats.as_dict() | report, error=None
        )
        log.info("knowledge import %s of source %s: %s", run.id, source.id, stats.as_dict())
        return stats

    async def handle(self, job: Job) -> dict[str, Any]:
        """The job handler: a run that already succeeded is not run again; a rate limit or an unreachable
        service is tried again later; anything else fails the run at once (trying again would fail alike)."""
        run = await store.import_row(int(job.payload.get("import_id") or 0))
        if run is None or run.team_id != job.team_id:  # type: ignore[attr-defined]
            return {"skipped": "no such import"}
        if run.status == "SUCCEEDED":
            return {"import_id": run.id, "status": run.status}
        try:
            stats = await self.run(run.id)
        except (IntegrationRateLimited, IntegrationUnavailable):
            raise
        except AdjutantError as exc:
            raise JobFailedPermanently(exc.detail) from exc
        except Exception as exc:
            raise JobFailedPermanently(redact_url(f"{exc.__class__.__name__}: {exc}")) from exc
        return {"import_id": run.id, "status": "SUCCEEDED"} | stats.as_dict()

    async def on_dead(self, job: Job, error: str) -> None:
        import_id = int(job.payload.get("import_id") or 0)
        await store.update_import(import_id, status="FAILED", error=error[:2000], finished_at=now())


def knowledge_imports(
    settings: Settings,
    search: SearchService,
    *,
    queue: Callable[[], JobQueue] | None = None,
    connections: Callable[[], Connections] | None = None,
    redis: Any | None = None,
) -> KnowledgeImports:
    reader = SourceReader(settings, search, connections or connections_of(settings, redis))
    return KnowledgeImports(reader, search, queue=queue)


def register(
    handlers: JobHandlers,
    settings: Settings,
    search: SearchService,
    queue: Callable[[], JobQueue],
    *,
    redis: Any | None = None,
) -> KnowledgeImports:
    from app.knowledge import configure

    # Every process that runs jobs registers them here (the app and `adjutant worker`): the module-level
    # `search` other workflows call is configured with the same settings.
    configure(settings)
    imports = knowledge_imports(settings, search, queue=queue, redis=redis)
    handlers.register(
        KIND,
        imports.handle,
        max_attempts=3,
        timeout_s=settings.knowledge.import_timeout_s,
        concurrency=1,  # embedding is CPU-bound: one import per worker at a time
        on_dead=imports.on_dead,
    )
    return imports
