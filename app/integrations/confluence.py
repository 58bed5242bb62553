"""Confluence Cloud and Data Center through `atlassian-python-api`: CQL search, pages by id or title (storage
format as Markdown), children, and creating or updating a page from Markdown.

Both deployments are spoken to through the REST API v1 (`/rest/api/content`, `/rest/api/search`): CQL
exists only there, and Cloud still serves it. The base URL is the site's `/wiki` on Cloud
(`https://<site>.atlassian.net/wiki`; added when the connection names only the site) and the host with its
context path on Data Center (`https://confluence.example.com` or `https://example.com/confluence`).
Cloud is email + API token (Basic), Data Center a personal access token (Bearer); see
`app.integrations.atlassian_calls` for how a connection's deployment is decided.

The library is blocking: every call runs in the runtime's thread pool via `AtlassianCalls`, with its own
backoff and Retry-After sleeping switched off and our timeout, retry, rate-limit and error policy around it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from atlassian import Confluence

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected
from app.integrations.atlassian_calls import AtlassianCalls, auth_of, deployment_of, guard_session
from app.integrations.atlassian_text import markdown_to_storage, storage_to_markdown
from app.integrations.connection import ConnectionInfo
from app.integrations.jira_issue import bounded, parse_time
from app.integrations.runtime import IntegrationRuntime
from app.integrations.types import DocPage, Identity

SERVICE = "confluence"
PAGE_ID = re.compile(r"^[1-9][0-9]{0,18}$")
SPACE_KEY = re.compile(r"^~?[A-Za-z0-9_.\-:]{1,255}$")
PAGE_EXPAND = "body.storage,version,space"
LIST_EXPAND = "version,space"
MAX_PAGE = 50
MAX_CQL_CHARS = 5000
MAX_TITLE_CHARS = 255
MAX_BODY_CHARS = 500_000
EXCERPT_CHARS = 600
HIGHLIGHT = re.compile(r"@@@(?:end)?hl@@@")


class ConfluenceClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        self.deployment = deployment_of(connection)
        base = connection.base_url.rstrip("/")
        if self.deployment == "cloud" and not urlsplit(base).path.strip("/"):
            base += "/wiki"
        self.base_url = base
        auth = auth_of(connection)
        options: dict[str, Any] = {
            "timeout": max(1, int(runtime.policy.timeout_s)),
            "backoff_and_retry": False,
            "retry_with_header": False,  # else a 429 makes the library sleep in our pool thread
            "cloud": False,  # the library's Cloud class speaks REST v2, which has no CQL; v1 is served by both
        }
        if auth.basic:
            options |= {"username": auth.basic[0], "password": auth.basic[1]}
        else:
            options["token"] = auth.secret
        client = Confluence(self.base_url, **options)
        # `Confluence` picks an implementation and delegates to it; talk to that one directly.
        self._api = getattr(client, "_impl", client)
        self._api.timeout = runtime.policy.timeout_s  # the constructor keeps whole seconds only
        guard_session(self._api.session, self.base_url)
        self._calls = AtlassianCalls(
            SERVICE, limiter=runtime.limiter(connection), pool=runtime.pool, policy=runtime.policy
        )

    async def aclose(self) -> None:
        self._api.close()

    async def identity(self) -> Identity:
        """The current user (`/rest/api/user/current`) and the operations Confluence says it may perform."""
        me = await self._calls.read(self._api.get, "rest/api/user/current", params={"expand": "operations"})
        if not isinstance(me, dict) or me.get("type") == "anonymous":
            raise IntegrationAuthFailed("confluence treats these credentials as anonymous", service=SERVICE)
        operations = me.get("operations") or []
        scopes = sorted({f"{op.get('operation')}:{op.get('targetType')}" for op in operations if isinstance(op, dict)})
        return Identity(
            login=str(me.get("accountId") or me.get("username") or me.get("userKey") or ""),
            name=me.get("displayName") or me.get("publicName"),
            scopes=scopes,
            detail=f"Confluence {'Cloud' if self.deployment == 'cloud' else 'Data Center'} at {self.base_url}",
        )

    async def search(self, cql: str, *, limit: int = 20) -> list[DocPage]:
        """Content that `cql` finds, with Confluence's excerpt; pages are followed up to `limit` results."""
        if not cql.strip() or len(cql) > MAX_CQL_CHARS:
            raise IntegrationRejected(
                f"confluence: a CQL query of 1 to {MAX_CQL_CHARS} characters is needed", service=SERVICE
            )
        limit = max(1, min(limit, 200))
        body = await self._calls.read(
            self._api.cql, cql, limit=min(limit, MAX_PAGE), expand="content.space,content.version", excerpt="highlight"
        )
        found: list[DocPage] = []
        while True:
            for result in (body or {}).get("results") or []:
                page = self._from_result(result)
                if page is not None:
                    found.append(page)
                if len(found) >= limit:
                    return found
            following = ((body or {}).get("_links") or {}).get("next")
            if not following:
                return found
            body = await self._calls.read(self._api.get, self._follow(following), absolute=True)

    async def get_page(self, page_id: str, *, max_chars: int = 50_000) -> DocPage:
        page_id = _page_id(page_id)
        raw = await self._calls.read(self._api.get_page_by_id, page_id, expand=PAGE_EXPAND)
        return self._page(raw, max_chars=max_chars)

    async def get_page_by_title(self, space: str, title: str, *, max_chars: int = 50_000) -> DocPage:
        space = _space_key(space)
        title = _title(title)
        raw = await self._calls.read(self._api.get_page_by_title, space, title, expand=PAGE_EXPAND)
        # Library versions differ: the first page, or the whole `{"results": [...]}` listing.
        if isinstance(raw, dict) and "results" in raw:
            raw = next(iter(raw.get("results") or []), None)
        if not isinstance(raw, dict) or not raw.get("id"):
            raise IntegrationNotFound(f"confluence has no page {title!r} in space {space}", service=SERVICE)
        return self._page(raw, max_chars=max_chars)

    async def children(self, page_id: str, limit: int = 25) -> list[DocPage]:
        """The page's child pages (titles, versions and links; no bodies)."""
        page_id = _page_id(page_id)
        limit = max(1, min(limit, 100))
        raw = await self._calls.read(
            self._api.get_page_child_by_type, page_id, type="page", start=0, limit=limit, expand=LIST_EXPAND
        )
        items = raw.get("results") if isinstance(raw, dict) else raw
        return [self._page(item, with_body=False) for item in (items or [])[:limit] if isinstance(item, dict)]

    async def create_page(self, space: str, title: str, body_markdown: str, parent_id: str | None = None) -> DocPage:
        space = _space_key(space)
        title = _title(title)
        storage = _storage(body_markdown)
        parent = _page_id(parent_id) if parent_id else None
        raw = await self._calls.write(
            self._api.create_page, space, title, storage, parent_id=parent, representation="storage"
        )
        return self._page(raw, fallback_markdown=body_markdown)

    async def update_page(self, page_id: str, title: str, body_markdown: str) -> DocPage:
        """Replace the page's title and body as the next version. IntegrationRejected on a conflict (someone
        saved in between: Confluence answers 409)."""
        page_id = _page_id(page_id)
        title = _title(title)
        storage = _storage(body_markdown)
        raw = await self._calls.write(
            self._api.update_page, page_id, title, storage, representation="storage", always_update=True
        )
        return self._page(raw, fallback_markdown=body_markdown)

    # --- shapes ---------------------------------------------------------------------------------------------

    def _page(
        self, raw: Any, *, max_chars: int = 50_000, with_body: bool = True, fallback_markdown: str = ""
    ) -> DocPage:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise IntegrationNotFound("confluence answered without the page", service=SERVICE)
        storage = ((raw.get("body") or {}).get("storage") or {}).get("value")
        markdown = storage_to_markdown(storage) if storage is not None else fallback_markdown
        version = raw.get("version") or {}
        return DocPage(
            id=str(raw["id"]),
            title=str(raw.get("title") or ""),
            space=(raw.get("space") or {}).get("key"),
            version=version.get("number"),
            body_markdown=bounded(markdown, max_chars) if with_body else "",
            url=self._web_url(raw),
            updated_at=parse_time(version.get("when")),
        )

    def _from_result(self, result: Any) -> DocPage | None:
        if not isinstance(result, dict):
            return None
        content = result.get("content")
        if not isinstance(content, dict) or not content.get("id"):
            return None  # a space or a user: not something with a body to read
        page = self._page(content, with_body=False)
        excerpt = " ".join(HIGHLIGHT.sub("", str(result.get("excerpt") or "")).split())
        updates: dict[str, Any] = {"excerpt": bounded(excerpt, EXCERPT_CHARS) or None}
        if page.updated_at is None:
            updates["updated_at"] = parse_time(result.get("lastModified"))
        return page.model_copy(update=updates)

    def _web_url(self, raw: dict[str, Any]) -> str:
        webui = (raw.get("_links") or {}).get("webui")
        # Our base, not the one the answer names: a page link never points off the connection's site.
        if isinstance(webui, str) and webui.startswith("/"):
            return self.base_url + webui
        return f"{self.base_url}/pages/viewpage.action?pageId={raw.get('id')}"

    def _follow(self, link: str) -> str:
        if link.startswith(("http://", "https://")):
            if urlsplit(link).netloc != urlsplit(self.base_url).netloc:
                raise IntegrationRejected("confluence pointed the next page to another host; refused", service=SERVICE)
            return link
        parts = urlsplit(self.base_url)
        if parts.path and link.startswith(parts.path.rstrip("/") + "/rest/"):
            return f"{parts.scheme}://{parts.netloc}{link}"  # already under the context path
        return self.base_url + "/" + link.lstrip("/")


def _page_id(page_id: str) -> str:
    value = str(page_id).strip()
    if not PAGE_ID.match(value):
        raise IntegrationRejected(f"confluence: {value[:40]!r} is not a page id", service=SERVICE)
    return value


def _space_key(space: str) -> str:
    value = space.strip()
    if not SPACE_KEY.match(value):
        raise IntegrationRejected(f"confluence: {value[:40]!r} is not a space key", service=SERVICE)
    return value


def _title(title: str) -> str:
    value = " ".join(title.split())
    if not value or len(value) > MAX_TITLE_CHARS:
        raise IntegrationRejected(
            f"confluence: a title of 1 to {MAX_TITLE_CHARS} characters is needed", service=SERVICE
        )
    return value


def _storage(markdown: str) -> str:
    storage = markdown_to_storage(markdown)
    if len(storage) > MAX_BODY_CHARS:
        raise IntegrationRejected("confluence: the page body is too large", service=SERVICE)
    return storage
