"""Documentation pages fetched once from a list of URLs, as text.

Every URL, and every redirect it answers with, goes through the address policy (public addresses, or hosts the
operator allow-listed in integrations.allowed_hosts) and is connected to at the address that was checked, so a
second DNS answer cannot swap it. Each page has a time limit and a size limit; a page that fails is recorded
and skipped, not the whole import.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.integrations.addresses import AddressRefused, AllowList, Resolver, resolve_allowed, system_resolver
from app.knowledge.items import KnowledgeItem
from app.knowledge.markup import html_to_markdown

MAX_REDIRECTS = 3
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown")


class PageRefused(Exception):
    """Why one URL was not imported; safe to show."""


@dataclass
class PageFetcher:
    allow: AllowList
    timeout_s: float
    max_bytes: int
    resolver: Resolver = system_resolver
    failures: list[dict[str, str]] = field(default_factory=list)

    async def fetch(self, client: httpx.AsyncClient, url: str) -> tuple[str, str]:
        """(final URL, body text) of one page."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PageRefused("only http(s) URLs can be fetched")
            if parts.username or parts.password:
                raise PageRefused("URLs with credentials are not fetched")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                resolved = await resolve_allowed(parts.hostname, port, self.allow, self.resolver)
            except AddressRefused as exc:
                raise PageRefused(f"{exc} (integrations.allowed_hosts lists exceptions)") from None
            pinned = resolved.pinned
            host = f"[{pinned}]" if pinned.version == 6 else str(pinned)
            target = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))
            headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "text/html, text/plain;q=0.9"}
            extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
            async with client.stream("GET", target, headers=headers, extensions=extensions) as response:
                if response.status_code in (301, 302, 303, 307, 308) and response.headers.get("location"):
                    current = urljoin(current, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise PageRefused(f"HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind and kind not in TEXT_TYPES:
                    raise PageRefused(f"not a text page ({kind[:60]})")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise PageRefused(f"larger than {self.max_bytes} bytes")
                body = bytearray()
                async for piece in response.aiter_bytes():
                    body.extend(piece)
                    if len(body) > self.max_bytes:
                        raise PageRefused(f"larger than {self.max_bytes} bytes")
                return current, body.decode(response.encoding or "utf-8", errors="replace")
        raise PageRefused(f"more than {MAX_REDIRECTS} redirects")

    async def items(self, urls: list[str]) -> AsyncIterator[KnowledgeItem]:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_s), follow_redirects=False, headers={"User-Agent": "Adjutant"}
        ) as client:
            for url in dict.fromkeys(urls):
                try:
                    async with asyncio.timeout(self.timeout_s):
                        final, body = await self.fetch(client, url)
                except PageRefused as exc:
                    self.failures.append({"url": url, "error": str(exc)})
                    continue
                except (httpx.HTTPError, TimeoutError) as exc:
                    self.failures.append({"url": url, "error": f"could not be fetched ({exc.__class__.__name__})"})
                    continue
                title, text = html_to_markdown(body) if "<" in body[:2000] else ("", body)
                if not text.strip():
                    self.failures.append({"url": url, "error": "no text"})
                    continue
                yield KnowledgeItem(
                    external_id=url, kind="doc", title=title or urlsplit(final).path or final, text=text, url=final
                )
