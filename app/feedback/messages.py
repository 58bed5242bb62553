"""A message as every source hands it over, and storing it once: (team, source, external id) is unique, so a
message read again (an overlapping page, a re-run of the same week) is skipped, not duplicated.

Of its author only what a ticket needs is kept: the service's id (to count distinct people) and a display
name (to attribute a quote); never an email address or anything else a service sends about a person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.db.repositories import feedback as store

Source = Literal["discord", "slack", "chat", "github", "api"]
TEXT_MAX = 8_000
CONTEXT_MAX = 12_000


class IncomingMessage(BaseModel):
    source: Source
    external_id: str = Field(min_length=1, max_length=300)
    connection_id: int | None = None
    channel: str | None = Field(default=None, max_length=300)
    thread_id: str | None = Field(default=None, max_length=300)
    author_id: str | None = Field(default=None, max_length=200)
    author_name: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1)
    context: str | None = None  # a thread's replies, the answer a thumbs-down was about
    url: str | None = Field(default=None, max_length=1000)
    posted_at: datetime | None = None

    def row(self) -> dict[str, object]:
        return self.model_dump() | {
            "text": _cut(self.text, TEXT_MAX),
            "context": _cut(self.context, CONTEXT_MAX) if self.context else None,
            "posted_at": self.posted_at or datetime.now(UTC),
        }


async def store_messages(team_id: int, run_id: int | None, incoming: list[IncomingMessage]) -> list[int]:
    """The ids of the messages that were new."""
    return await store.add_messages(team_id, run_id, [m.row() for m in incoming if m.text.strip()])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
