"""Web search providers: a SearXNG instance (its JSON search API) or the Brave Search API.

Both answer one query with a list of `WebHit`s. The endpoint comes from the operator's configuration,
never from a user. Every failure (timeout, refused connection, an error status, a body that is not the
provider's JSON) is one `WebSearchFailed` whose message is safe to show: it never carries the API key
or a password from the configured URL.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from typing import Any, Protocol, Self

import httpx

from app.runtime.settings import WebSearchSettings
from app.runtime.stack import redact_url

BRAVE_ENDPOINT = "https://api.search.brave.com/res/v1/web/search"
BRAVE_MAX_QUERY_CHARS = 400  # Brave rejects longer queries (and more than 50 words)
BRAVE_MAX_WORDS = 50
TITLE_CHARS = 300
SNIPPET_CHARS = 600
TAG = re.compile(r"<[^>]{0,200}>")
USER_AGENT = "Adjutant web search"


@dataclass(frozen=True)
class WebHit:
    title: str
    url: str
    snippet: str


class WebSearchFailed(Exception):
    """The provider could not answer; `str(exc)` is safe for users, logs and the model."""


class WebSearchClient(Protocol):
    name: str

    async def search(self, query: str, *, limit: int) -> list[WebHit]: ...

    async def aclose(self) -> None: ...


class _Pooled:
    """One connection pool per client, made on first use (inside the running loop: building an httpx client
    costs ~25 ms of CPU, too much to pay per search) and closed on shutdown."""

    _http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class SearxngClient(_Pooled):
    """GET <base>/search?q=...&format=json on a SearXNG instance whose settings enable the json format."""

    name = "searxng"

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        self.endpoint = base_url.rstrip("/") + "/search"
        self.timeout_s = timeout_s

    async def search(self, query: str, *, limit: int) -> list[WebHit]:
        body = await _get_json(
            self.http(),
            self.name,
            self.endpoint,
            params={"q": query, "format": "json", "pageno": "1"},
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            timeout_s=self.timeout_s,
            hint={403: "the instance does not serve the json format (search.formats in its settings.yml)"},
        )
        results = body.get("results")
        if not isinstance(results, list):
            raise WebSearchFailed("searxng answered without a results list")
        return _hits(((r.get("title"), r.get("url"), r.get("content")) for r in results if isinstance(r, dict)), limit)


class BraveClient(_Pooled):
    """The Brave Search API's web search: GET ?q=...&count=N with the X-Subscription-Token header."""

    name = "brave"

    def __init__(self, api_key: str, *, timeout_s: float, endpoint: str = BRAVE_ENDPOINT) -> None:
        self.api_key = api_key
        self.endpoint = endpoint
        self.timeout_s = timeout_s

    async def search(self, query: str, *, limit: int) -> list[WebHit]:
        body = await _get_json(
            self.http(),
            self.name,
            self.endpoint,
            params={"q": brave_query(query), "count": str(min(limit, 20)), "result_filter": "web"},
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
                "X-Subscription-Token": self.api_key,
                "User-Agent": USER_AGENT,
            },
            timeout_s=self.timeout_s,
            hint={401: "the subscription token was refused", 422: "the subscription token or query was refused"},
        )
        web = body.get("web")
        results = web.get("results") if isinstance(web, dict) else []
        if not isinstance(results, list):
            raise WebSearchFailed("brave answered without a web.results list")
        return _hits(
            ((r.get("title"), r.get("url"), r.get("description")) for r in results if isinstance(r, dict)), limit
        )


def web_search_client(settings: WebSearchSettings) -> WebSearchClient | None:
    """The configured provider's client, or None when web search is not configured."""
    if settings.provider == "searxng":
        return SearxngClient(settings.url, timeout_s=settings.timeout_s)
    if settings.provider == "brave" and settings.api_key:
        return BraveClient(settings.api_key, timeout_s=settings.timeout_s, endpoint=settings.url or BRAVE_ENDPOINT)
    return None


def brave_query(query: str) -> str:
    """Within Brave's limits: at most 50 words and 400 characters, cut at a word boundary."""
    words = query.split()[:BRAVE_MAX_WORDS]
    text = " ".join(words)
    if len(text) > BRAVE_MAX_QUERY_CHARS:
        text = text[:BRAVE_MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    return text


async def _get_json(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    params: dict[str, str],
    headers: dict[str, str],
    timeout_s: float,
    hint: dict[int, str],
) -> dict[str, Any]:
    try:
        # httpx's timeout bounds each phase; the outer one bounds the whole exchange.
        async with asyncio.timeout(timeout_s):
            response = await client.get(url, params=params, headers=headers, timeout=timeout_s)
    except (TimeoutError, httpx.TimeoutException):
        raise WebSearchFailed(f"{provider} did not answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        # The exception text may quote the URL (and a password in it): only its class is kept.
        raise WebSearchFailed(f"{provider} could not be reached ({exc.__class__.__name__})") from None
    if response.status_code != 200:
        detail = hint.get(response.status_code) or _provider_detail(response)
        raise WebSearchFailed(
            f"{provider} answered HTTP {response.status_code}" + (f": {redact_url(detail)}" if detail else "")
        )
    try:
        body = response.json()
    except ValueError:
        raise WebSearchFailed(f"{provider} answered with something that is not JSON") from None
    if not isinstance(body, dict):
        raise WebSearchFailed(f"{provider} answered with JSON that is not an object")
    return body


def _provider_detail(response: httpx.Response) -> str:
    """Brave's error body `{"error": {"code", "detail"}}`; a short, printable excerpt of anything else."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [str(error.get(k)) for k in ("code", "detail") if error.get(k)]
        return " - ".join(parts)[:200]
    return ""


def _hits(rows: Any, limit: int) -> list[WebHit]:
    hits: list[WebHit] = []
    seen: set[str] = set()
    for title, url, snippet in rows:
        if not isinstance(url, str) or not re.match(r"^https?://", url) or url in seen:
            continue
        seen.add(url)
        hits.append(WebHit(title=_plain(title, TITLE_CHARS) or url, url=url, snippet=_plain(snippet, SNIPPET_CHARS)))
        if len(hits) >= limit:
            break
    return hits


def _plain(value: Any, limit: int) -> str:
    """Provider text without markup (Brave marks matches with <strong>), entities decoded, bounded."""
    if not isinstance(value, str):
        return ""
    text = " ".join(html.unescape(TAG.sub("", value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
