"""A Confluence space as documentation: its pages (found by CQL, then read one by one as Markdown)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.integrations.confluence import ConfluenceClient
from app.integrations.connection import ConnectionInfo
from app.integrations.runtime import IntegrationRuntime
from app.knowledge.items import KnowledgeItem

MAX_PAGE_CHARS = 200_000


async def space_items(
    connection: ConnectionInfo, runtime: IntegrationRuntime, space: str, max_pages: int
) -> AsyncIterator[KnowledgeItem]:
    client = ConfluenceClient(connection, runtime)
    try:
        found = await client.search(f'type = page AND space = "{space}"', limit=max_pages)
        for listed in found:
            page = await client.get_page(listed.id, max_chars=MAX_PAGE_CHARS)
            if not page.body_markdown.strip():
                continue
            yield KnowledgeItem(
                external_id=page.id,
                kind="doc",
                title=page.title,
                text=page.body_markdown,
                url=page.url,
                meta={"space": page.space, "version": page.version},
            )
    finally:
        await client.aclose()
