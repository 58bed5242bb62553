"""What an importer produces: one `KnowledgeItem` per page or per answer (with its question), before chunking."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

ItemKind = Literal["doc", "qa"]
ChunkKind = Literal["doc", "qa", "qa_code"]


@dataclass
class KnowledgeItem:
    """`external_id` is the thing's own id within its source (a page id, "q12/a34", a file path): importing
    the same thing again updates it. `text` is Markdown (code as fenced blocks). For Q&A, `meta` holds
    question, answer, score, accepted, tags; `attribution` the licence, author and link to credit."""

    external_id: str
    kind: ItemKind
    title: str
    text: str
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attribution: dict[str, Any] | None = None
    language_hint: str | None = None  # for code blocks without their own (a question's tags)

    def content_hash(self) -> str:
        """Changes whenever anything that is stored or embedded changes."""
        payload = json.dumps(
            [self.kind, self.title, self.text, self.url, self.meta, self.attribution, self.language_hint],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def stack_overflow_licence(created_year_month: tuple[int, int] | None) -> tuple[str, str]:
    """The CC BY-SA version Stack Exchange content carries for the date it was posted (its licensing page:
    2.5 before 2011-04, 3.0 before 2018-05, 4.0 since)."""
    if created_year_month is not None and created_year_month < (2011, 4):
        version = "2.5"
    elif created_year_month is not None and created_year_month < (2018, 5):
        version = "3.0"
    else:
        version = "4.0"
    return f"CC BY-SA {version}", f"https://creativecommons.org/licenses/by-sa/{version}/"


def stack_overflow_attribution(
    *, author: str | None, author_url: str | None, link: str, created: tuple[int, int] | None, site: str
) -> dict[str, Any]:
    licence, licence_url = stack_overflow_licence(created)
    who = author or "an anonymous user"
    return {
        "licence": licence,
        "licence_url": licence_url,
        "author": author,
        "author_url": author_url,
        "link": link,
        "text": f"Answer by {who} on {site}, {licence}: {link}",
    }
