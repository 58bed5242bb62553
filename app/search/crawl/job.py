"""Crawls: asked for (scope and connection checked, a row recorded, the `repository.crawl` job queued), run
(the scope listed through the connection's client, each repository filtered, checked and, when its head moved
since it was last indexed, one index job queued for it) and shown.

A rate limit that ends soon pauses the crawl in place (PAUSED, with when it resumes); a longer one ends the
attempt and the job is retried later. A run picks up where the last stopped: repositories it already decided
are not looked at again. Another team's crawl or connection answers exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from app.db.models import Crawl
from app.db.ownership import parse_id
from app.db.repositories import code
from app.db.repositories import crawls as store
from app.db.repositories.chat import now
from app.errors import (
    AdjutantError,
    Conflict,
    ConnectionNotFound,
    CrawlNotFound,
    IntegrationRateLimited,
    IntegrationUnavailable,
    InvalidRequest,
    JobFailedPermanently,
)
from app.integrations.clients import client_for
from app.integrations.connections import Connections, connections_of
from app.integrations.repository_lists import ScmRepository
from app.jobs.interface import Job, JobHandlers
from app.jobs.queue import JobQueue
from app.runtime.redaction import redact_url
from app.runtime.settings import Settings
from app.search import git_credentials, repositories
from app.search.crawl import progress
from app.search.crawl.filters import CrawlFilters, filtered_out
from app.search.crawl.listing import CrawlScope, clone_refusal, head_commit, listed, local_name
from app.search.git_remote import parse_git_url
from app.search.service import NAME, SearchService

KIND = "repository.crawl"
PAUSE_IN_PLACE_MAX_S = 60.0  # a rate limit ending sooner is waited out by the running crawl
ATTEMPTS = 10  # each retry after a long rate limit is one
log = logging.getLogger("adjutant.search")
# How a token connection's credentials are given to git over https (the service's documented usernames).
CLONE_USERS = {"github": "x-access-token", "gitlab": "oauth2", "bitbucket": "x-token-auth"}


class CrawlRequest(BaseModel):
    connection: str = Field(min_length=1, max_length=100, description="The connection's id or name.")
    scope: CrawlScope
    filters: CrawlFilters = Field(default_factory=CrawlFilters)
    max_repositories: int = Field(default=200, ge=1, le=1000, description="Most repositories one crawl lists.")


class Crawls:
    def __init__(
        self,
        search: SearchService,
        connections: Callable[[], Connections],
        queue: Callable[[], JobQueue],
    ) -> None:
        self.search = search
        self.connections = connections
        self.queue = queue

    # --- asking -------------------------------------------------------------------------------------------

    async def request(self, team_id: int, user_id: int | None, ask: CrawlRequest) -> dict[str, Any]:
        info = await self.connections().connection(team_id, ask.connection)
        ask.scope.check_kind(info.kind)
        crawl = await store.create(
            team_id=team_id,
            connection_id=info.id,
            requested_by_id=user_id,
            scope=ask.scope.model_dump(mode="json", exclude_none=True),
            filters=ask.filters.model_dump(mode="json") | {"max_repositories": ask.max_repositories},
        )
        job = await self.queue().enqueue(KIND, {"crawl_id": crawl.id}, f"crawl-{crawl.id}", team_id)
        await store.update(crawl.id, job_id=job.id)
        crawl.job_id = job.id
        return progress.describe(crawl, info.name, [], with_rows=False)

    async def get(self, team_id: int, raw_id: Any) -> dict[str, Any]:
        crawl_id = parse_id(raw_id)
        crawl = None if crawl_id is None else await store.team_crawl(team_id, crawl_id)
        if crawl is None:
            raise CrawlNotFound("crawl not found")
        rows = await progress.reconcile(await store.rows(crawl.id))
        await progress.settle_crawl(crawl, rows)
        return progress.describe(crawl, await self._connection_name(crawl), rows, with_rows=True)

    async def recent(self, team_id: int, limit: int = 20) -> list[dict[str, Any]]:
        crawls = await store.team_crawls(team_id, limit=limit)
        views = []
        for crawl in crawls:
            rows = await progress.reconcile(await store.rows(crawl.id))
            await progress.settle_crawl(crawl, rows)
            views.append(progress.describe(crawl, await self._connection_name(crawl), rows, with_rows=False))
        return views

    async def _connection_name(self, crawl: Crawl) -> str | None:
        row = await store.connection_row(crawl.team_id, crawl.connection_id)  # type: ignore[attr-defined]
        return row.name if row else None

    # --- running ------------------------------------------------------------------------------------------

    async def handle(self, job: Job) -> dict[str, Any]:
        """The job handler: a rate limit or an unreachable service is tried again later; anything else fails
        the crawl at once (listing again would fail alike)."""
        crawl = await store.crawl(int(job.payload.get("crawl_id") or 0))
        if crawl is None or crawl.team_id != job.team_id:  # type: ignore[attr-defined]
            return {"skipped": "no such crawl"}
        if crawl.status in ("INDEXING", "SUCCEEDED"):
            return {"crawl_id": crawl.id, "status": crawl.status}
        try:
            await self.run(crawl)
        except (IntegrationRateLimited, IntegrationUnavailable):
            raise
        except AdjutantError as exc:
            await self._fail(crawl, exc.detail)
            raise JobFailedPermanently(exc.detail) from exc
        except Exception as exc:
            detail = redact_url(f"{exc.__class__.__name__}: {exc}")
            await self._fail(crawl, detail)
            raise JobFailedPermanently(detail) from exc
        done = await store.crawl(crawl.id)
        rows = await progress.reconcile(await store.rows(crawl.id))
        if done is not None:
            await progress.settle_crawl(done, rows)  # nothing queued (all unchanged): finished already
        return {"crawl_id": crawl.id, "status": done.status if done else "deleted"} | progress.counts(rows)

    async def on_dead(self, job: Job, error: str) -> None:
        crawl_id = int(job.payload.get("crawl_id") or 0)
        await store.update(crawl_id, status="FAILED", error=error[:2000], finished_at=now())

    async def _fail(self, crawl: Crawl, detail: str) -> None:
        await store.update(crawl.id, status="FAILED", error=redact_url(detail)[:2000], finished_at=now())

    async def run(self, crawl: Crawl) -> None:
        """List, filter and queue; waits out short rate limits (PAUSED meanwhile) and resumes where it was."""
        row = await store.connection_row(crawl.team_id, crawl.connection_id)  # type: ignore[attr-defined]
        if row is None:
            raise ConnectionNotFound("the crawl's connection was removed")
        connections = self.connections()
        info = connections.open(row)
        await connections.check_address(info.base_url)
        scope = CrawlScope.model_validate(crawl.scope)
        filters = CrawlFilters.model_validate(crawl.filters)
        limit = int(crawl.filters.get("max_repositories") or 200)
        await store.update(crawl.id, status="LISTING", started_at=crawl.started_at or now(), error=None)
        while True:
            client = client_for(info, connections.runtime)
            try:
                async for repo in listed(client, info.kind, scope, filters, limit=limit):
                    await self._consider(crawl, info, client, repo, filters)
                break
            except IntegrationRateLimited as exc:
                wait = exc.retry_after or 1.0
                await store.update(
                    crawl.id,
                    status="PAUSED",
                    pauses=crawl.pauses + 1,
                    resume_at=now() + timedelta(seconds=wait),
                    error=exc.detail,
                )
                crawl.pauses += 1
                log.info("crawl %s paused %.1f s by a rate limit of %s", crawl.id, wait, info.kind)
                if wait > PAUSE_IN_PLACE_MAX_S:
                    raise
                await asyncio.sleep(wait + 0.05)  # the shared pause has ended for every worker by then
                await store.update(crawl.id, status="LISTING", resume_at=None, error=None)
            finally:
                await client.aclose()
        await store.update(crawl.id, status="INDEXING", resume_at=None, error=None)

    async def _consider(self, crawl: Crawl, info: Any, client: Any, repo: ScmRepository, filters: CrawlFilters) -> None:
        """Decide one listed repository and record it; one already decided by an earlier run is left alone."""
        if await store.row(crawl.id, repo.full_name) is not None:
            return
        team_id = crawl.team_id  # type: ignore[attr-defined]

        async def decide(state: str, **fields: Any) -> None:
            await store.record(team_id=team_id, crawl_id=crawl.id, full_name=repo.full_name, state=state, **fields)

        reason = filtered_out(repo, filters)
        if reason is not None:
            await decide("FILTERED", skipped_reason=reason)
            return
        name = local_name(repo.full_name)
        refusal = clone_refusal(info.base_url, repo.clone_url)
        if refusal is None and not NAME.fullmatch(name):
            refusal = "its name is too long to index"
        if refusal is None and repo.default_branch is None:
            refusal = "the repository is empty"
        if refusal is None:
            try:
                await self.search.check_git_url(repo.clone_url)
            except InvalidRequest as exc:
                refusal = f"its clone URL is refused: {exc.detail}"
        if refusal is not None:
            await decide("SKIPPED", skipped_reason=refusal)
            return
        existing = await code.repositories_named(team_id, [name])
        if existing and existing[0].source != repo.clone_url:
            await decide("SKIPPED", skipped_reason=f"a repository named {name} indexes another source")
            return
        commit = await head_commit(client, repo)
        await progress.reconcile(await store.earlier_rows(team_id, repo.full_name, before_crawl=crawl.id))
        if await store.last_indexed_commit(team_id, repo.full_name) == commit:
            await decide("UNCHANGED", head_commit=commit, last_indexed_commit=commit)
            return
        try:
            indexed = await repositories.register(
                self.queue(),
                team_id=team_id,
                name=name,
                source=repo.clone_url,
                source_kind="git",
                force=False,
                source_credentials=self._sealed_credentials(info, repo.clone_url, team_id, name),
                commit=commit,
            )
        except Conflict:
            await decide("SKIPPED", head_commit=commit, skipped_reason="an index job for it is already running")
            return
        await decide("QUEUED", head_commit=commit, repository_id=indexed.id, index_job=indexed.index_job)

    def _sealed_credentials(self, info: Any, clone_url: str, team_id: int, name: str) -> str | None:
        """The connection's credentials as the clone's (https basic auth), sealed for the repository row; None
        when the connection authenticates otherwise (a GitHub App), which leaves the clone anonymous."""
        login = clone_login(info)
        if login is None:
            return None
        url = replace(parse_git_url(clone_url), username=login[0], password=login[1])
        return git_credentials.seal(url, self.search.secret_box(), team_id=team_id, name=name)


def clone_login(info: Any) -> tuple[str, str] | None:
    """(user, password) for git over https: a token under the service's documented user, or a Bitbucket
    username with its app password; None when the connection has neither."""
    user, token = CLONE_USERS.get(info.kind), info.credential("token")
    if user is not None and token:
        return user, token
    if info.kind == "bitbucket":
        username, password = info.credential("username"), info.credential("password")
        if username and password:
            return username, password
    return None


def register(
    handlers: JobHandlers,
    settings: Settings,
    search: SearchService,
    queue: Callable[[], JobQueue],
    *,
    redis: Any | None = None,
) -> Crawls:
    crawls = Crawls(search, connections_of(settings, redis), queue)
    handlers.register(
        KIND,
        crawls.handle,
        max_attempts=ATTEMPTS,
        timeout_s=max(settings.jobs.default_timeout_s, 1800.0),
        concurrency=2,
        on_dead=crawls.on_dead,
    )
    return crawls
