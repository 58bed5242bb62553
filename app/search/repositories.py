"""The team's indexed repositories: registering one for (re)indexing, listing them, reading one the caller owns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.db.models import Repository
from app.db.ownership import get_owned
from app.db.repositories import code as store
from app.errors import Conflict, InvalidRequest
from app.jobs.queue import JobQueue
from app.runtime.redaction import redact_url
from app.search.index_job import KIND as INDEX_JOB
from app.search.index_job import job_payload

IndexedRepository = Repository  # what callers above this layer name in type hints


def allowed_local_path(raw: str, roots: tuple[str, ...]) -> Path:
    """A server directory that configuration allows to be indexed over HTTP, resolved."""
    path = Path(raw).expanduser().resolve()
    if not roots:
        raise InvalidRequest(
            "indexing server paths over HTTP is disabled (search.local_roots); use git_url "
            "or the adjutant index command"
        )
    if not any(path == Path(r).expanduser().resolve() or Path(r).expanduser().resolve() in path.parents for r in roots):
        raise InvalidRequest("that path is outside the directories this server may index (search.local_roots)")
    if not path.is_dir():
        raise InvalidRequest("that path is not a directory on the server")
    return path


async def register(
    jobs: JobQueue,
    *,
    team_id: int,
    name: str,
    source: str,
    source_kind: str,
    force: bool,
    source_credentials: str | None = None,
    commit: str | None = None,
) -> Repository:
    """Claim the repository's one index job and queue it; a job already queued or running is a Conflict.
    `source` holds no credentials; a git URL's are given sealed (app.search.git_credentials). `commit`: the
    head the caller saw (a crawl), part of the job's idempotency key."""
    repo, claimed = await store.claim_index_job(
        team_id=team_id,
        name=name,
        source=source,
        source_kind=source_kind,
        force=force,
        source_credentials=source_credentials,
    )
    if not claimed:
        raise Conflict(
            f"{name} is already {repo.status.lower()}; poll GET /v1/repositories/{repo.id}, "
            "or send force=true if that job was lost"
        )
    key = f"index:{repo.id}:{repo.index_job}" + (f":{commit}" if commit else "")
    await jobs.enqueue(INDEX_JOB, job_payload(repo.id, repo.index_job), key, team_id)
    return repo


async def team_repositories(team_id: int) -> list[Repository]:
    return await store.list_repositories(team_id)


async def owned_repository(repository_id: str, principal: Any) -> Repository:
    """The repository, if the caller's team owns it; NOT_FOUND otherwise, exactly as for an unknown id."""
    return await get_owned(Repository, repository_id, principal)


def shown_source(repo: Repository) -> str:
    """The source as a client sees it: never a credential, but a sign that the row keeps some."""
    source = redact_url(repo.source)
    if repo.source_credentials and "://" in source:
        scheme, _, rest = source.partition("://")
        return f"{scheme}://***@{rest}"
    return source
