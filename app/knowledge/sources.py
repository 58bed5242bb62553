"""Where each kind of import reads its items: the Stack Exchange API, a dump file, a folder of an indexed
repository or of the server, a list of URLs, a Confluence space, GitHub Discussions. Paths and references are
checked here, when an import is asked for, so bad input queues nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.db.repositories import code as code_store
from app.errors import InvalidRequest, NotFound
from app.integrations.addresses import AllowList, Resolver, system_resolver
from app.integrations.connections import Connections
from app.knowledge.dump import DumpFilter, dump_items
from app.knowledge.folders import docs_items, faq_items
from app.knowledge.items import KnowledgeItem
from app.knowledge.specs import (
    ConfluenceSpec,
    DiscussionsSpec,
    DocsSpec,
    DumpSpec,
    FaqSpec,
    StackExchangeSpec,
    UrlsSpec,
    _Folder,
)
from app.knowledge.stackexchange import QuestionQuery, StackExchangeClient, question_items
from app.knowledge.web_pages import PageFetcher
from app.runtime.settings import Settings
from app.search.service import SearchService

# Sources imported whole each time: what is gone from them is removed from the store.
SNAPSHOT_KINDS = frozenset({"docs", "faq", "urls", "confluence", "discussions"})


def _inside(path: Path, roots: tuple[str, ...]) -> bool:
    resolved = [Path(r).expanduser().resolve() for r in roots]
    return any(path == root or root in path.parents for root in resolved)


def server_path(raw: str, settings: Settings, *, local: bool, want_file: bool) -> Path:
    """A server path an import may read: anywhere from the CLI, inside search.local_roots over HTTP."""
    path = Path(raw).expanduser().resolve()
    if not local and not settings.search.local_roots:
        raise InvalidRequest("importing server paths over HTTP is disabled (search.local_roots); use the CLI")
    if not local and not _inside(path, settings.search.local_roots):
        raise InvalidRequest("that path is outside the directories this server may read (search.local_roots)")
    if want_file and not path.is_file():
        raise InvalidRequest("that path is not a file on the server")
    if not want_file and not path.is_dir():
        raise InvalidRequest("that path is not a directory on the server")
    return path


@dataclass
class SourceReader:
    settings: Settings
    search: SearchService
    connections: Any  # () -> Connections, built on first use (a worker has no app context)
    resolver: Resolver = system_resolver

    async def check(self, team_id: int, spec: Any, *, local: bool) -> None:
        """Raise a typed error for anything the spec names that is not there or not the team's."""
        if isinstance(spec, DumpSpec):
            server_path(spec.path, self.settings, local=local, want_file=True)
        elif isinstance(spec, _Folder):
            await self.folder(team_id, spec, local=local)
        elif isinstance(spec, UrlsSpec) and len(spec.urls) > self.settings.knowledge.max_urls:
            raise InvalidRequest(f"at most {self.settings.knowledge.max_urls} URLs per import (knowledge.max_urls)")
        elif isinstance(spec, ConfluenceSpec | DiscussionsSpec):
            await self._connection(team_id, spec)

    async def folder(self, team_id: int, spec: _Folder, *, local: bool) -> Path:
        if spec.repository is None:
            return server_path(spec.path or "", self.settings, local=local, want_file=False)
        found = await code_store.repositories_named(team_id, [spec.repository])
        if not found:
            raise NotFound(f"no indexed repository named {spec.repository}")
        repo = found[0]
        root = (
            self.search.repos_dir() / str(team_id) / repo.name if repo.source_kind == "git" else Path(repo.source)
        ).resolve()
        folder = (root / (spec.path or "")).resolve()
        if folder != root and root not in folder.parents:
            raise InvalidRequest("path must stay inside the repository")
        if not folder.is_dir():
            raise InvalidRequest(f"the repository has no folder {spec.path or '.'!r} (is it indexed yet?)")
        return folder

    async def _connection(self, team_id: int, spec: ConfluenceSpec | DiscussionsSpec) -> Any:
        connections: Connections = self.connections()
        info = await connections.connection(team_id, spec.connection)
        wanted = "confluence" if isinstance(spec, ConfluenceSpec) else "github"
        if info.kind != wanted:
            raise InvalidRequest(f"connection {spec.connection!r} is a {info.kind} connection; {wanted} is needed")
        await connections.check_address(info.base_url)
        return info

    async def items(self, team_id: int, spec: Any, report: dict[str, Any]) -> AsyncIterator[KnowledgeItem]:
        """The items of the spec; `report` collects what the reader wants to tell (failed URLs, quota)."""
        knowledge = self.settings.knowledge
        if isinstance(spec, StackExchangeSpec):
            client = StackExchangeClient(
                knowledge.stackexchange_api_url,
                key=knowledge.stackexchange_key,
                timeout_s=self.settings.integrations.timeout_s,
                max_backoff_s=knowledge.stackexchange_max_backoff_s,
                allow=AllowList.parse(self.settings.integrations.allowed_hosts),
                resolver=self.resolver,
            )
            query = QuestionQuery(
                site=spec.site,
                tags=tuple(spec.tags),
                min_score=spec.min_score,
                from_date=spec.start(),
                to_date=spec.end(),
                max_questions=spec.max_questions,
                answers_per_question=spec.answers_per_question,
                min_answer_score=spec.min_answer_score,
            )
            try:
                async for item in question_items(client, query):
                    yield item
            finally:
                report["api_calls"] = client.calls
                report["quota_remaining"] = client.quota.remaining
                report["backoff_waited_s"] = round(client.waited_s, 1)
                await client.aclose()
        elif isinstance(spec, DumpSpec):
            start, end = spec.start(), spec.end()
            dump_filter = DumpFilter(
                tags=frozenset(spec.tags),
                min_score=spec.min_score if spec.min_score is not None else -(10**9),
                min_answer_score=spec.min_answer_score,
                answers_per_question=spec.answers_per_question,
                from_date=start.replace(tzinfo=None) if start else None,  # dump times are naive UTC
                to_date=end.replace(tzinfo=None) if end else None,
                max_questions=spec.max_questions,
            )
            path = Path(spec.path).expanduser().resolve()
            async for item in dump_items(path, dump_filter, site_url=spec.site_url, site_name=spec.site_name):
                yield item
        elif isinstance(spec, DocsSpec | FaqSpec):
            folder = await self.folder(team_id, spec, local=True)  # checked when the import was asked for
            reader = docs_items if isinstance(spec, DocsSpec) else faq_items
            async for item in reader(folder, link_base=spec.link_base, max_file_bytes=knowledge.max_file_bytes):
                yield item
        elif isinstance(spec, UrlsSpec):
            fetcher = PageFetcher(
                AllowList.parse(self.settings.integrations.allowed_hosts),
                knowledge.fetch_timeout_s,
                knowledge.fetch_max_bytes,
                self.resolver,
            )
            try:
                async for item in fetcher.items(spec.urls):
                    yield item
            finally:
                report["failed"] = fetcher.failures[:100]
        elif isinstance(spec, ConfluenceSpec):
            from app.knowledge.confluence_space import space_items

            info = await self._connection(team_id, spec)
            async for item in space_items(info, self.connections().runtime, spec.space, spec.max_pages):
                yield item
        elif isinstance(spec, DiscussionsSpec):
            from app.knowledge.discussions import discussion_items

            info = await self._connection(team_id, spec)
            async for item in discussion_items(info, self.connections().runtime, spec):
                yield item
