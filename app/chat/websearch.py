"""Web search for the client's `web_search` tool (docs/protocol.md §4.1, §7.2).

The client forwards our whole response to the model and treats anything but HTTP 200 as a failure, so
every outcome is a 200 result the model can read: sources (and, when a helper model is available, a
short answer written from them), or a plain statement of why there are none (not configured, the
provider failed or timed out).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from app.agents.web_answer import agent as web_answer
from app.integrations.websearch import WebHit, WebSearchClient, WebSearchFailed
from app.runtime.settings import WebSearchSettings

log = logging.getLogger("adjutant.websearch")
NOT_CONFIGURED = (
    "Web search is not configured on this server, so the web could not be searched. "
    "Answer from what you already know and tell the user that no web results were available."
)
SUMMARIZED_HITS = 5


class WebSource(BaseModel):
    title: str
    url: str
    snippet: str


class WebSearchResult(BaseModel):
    """The `data` of POST /end_user/v1/websearch."""

    query: str
    configured: bool = Field(description="False when the server has no web search provider.")
    provider: str = Field(description='"searxng", "brave" or "none".')
    answer: str | None = Field(description="A short answer written from the sources, citing them as [n].")
    sources: list[WebSource]
    error: str | None = Field(description="Why there are no sources, in words the model can relay.")


class WebSearch:
    def __init__(
        self,
        settings: WebSearchSettings,
        client: WebSearchClient | None,
        *,
        ask_helper: Callable[..., Awaitable[str]] | None = None,
        helper_available: Callable[[], Any] = lambda: False,
    ) -> None:
        self.settings = settings
        self.client = client
        self.ask_helper = ask_helper
        self.helper_available = helper_available

    async def search(self, query: str) -> WebSearchResult:
        if self.client is None:
            return WebSearchResult(
                query=query, configured=False, provider="none", answer=None, sources=[], error=NOT_CONFIGURED
            )
        provider = self.client.name
        started = time.perf_counter()
        try:
            hits = await self.client.search(query, limit=self.settings.max_results)
        except WebSearchFailed as exc:
            log.warning("web search failed", extra={"provider": provider, "error": str(exc)})
            return WebSearchResult(
                query=query,
                configured=True,
                provider=provider,
                answer=None,
                sources=[],
                error=f"The web search failed: {exc}. Answer from what you already know and say so.",
            )
        log.info(
            "web search",
            extra={
                "provider": provider,
                "results": len(hits),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        sources = [WebSource(title=h.title, url=h.url, snippet=h.snippet) for h in hits]
        return WebSearchResult(
            query=query,
            configured=True,
            provider=provider,
            answer=await self._answer(query, hits),
            sources=sources,
            error=None if hits else "The search found nothing for this query.",
        )

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def _answer(self, query: str, hits: list[WebHit]) -> str | None:
        """Optional and bounded: without a helper model, or past the timeout, the sources stand alone."""
        if not hits or not self.settings.summarize or self.ask_helper is None or not self.helper_available():
            return None
        try:
            async with asyncio.timeout(self.settings.summary_timeout_s):
                text = await self.ask_helper(
                    web_answer.prompt(query, hits[:SUMMARIZED_HITS]), purpose="websearch", max_output_tokens=500
                )
        except TimeoutError:
            log.info("web search answer timed out after %.0f s", self.settings.summary_timeout_s)
            return None
        except Exception as exc:  # noqa: BLE001 - the sources are still worth returning
            log.info("web search answer failed: %s", exc.__class__.__name__)
            return None
        return web_answer.parse(text)
