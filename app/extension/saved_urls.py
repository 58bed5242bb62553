"""Saved URLs (docs/protocol.md §4.2): bookmarks the local binary indexes on the user's machine.

The server only stores them: it never requests a saved address, so no allow-list is needed, but every URL is
checked to be a plain http(s) address of bounded length. Each URL belongs to one principal; an id that is
unknown, deleted or someone else's answers the same NOT_FOUND and changes nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, StrictStr

from app.db.models import SavedUrl as SavedUrlRow
from app.db.ownership import Owner
from app.db.repositories import extension as repo
from app.errors import Conflict, NotFound

MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 255


def _web_url(value: str) -> str:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("a URL must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("only http:// and https:// URLs can be saved")
    if not parts.hostname:
        raise ValueError("the URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a saved URL must not carry credentials (user:password@)")
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise ValueError("the name must not be empty or blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("the name must not contain control characters")
    return value


def _utc(value: datetime | None) -> datetime | None:
    """The local binary sends aware UTC times; a naive one is read as UTC rather than refused."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


WebUrl = Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL_CHARS), AfterValidator(_web_url)]
UrlName = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_name)]
IndexedAt = Annotated[datetime, AfterValidator(_utc)]


class SavedUrl(BaseModel):
    """One saved URL as the wire shows it (`last_indexed`: ISO-8601 UTC, or null)."""

    id: int
    name: str
    url: str
    last_indexed: str | None

    @classmethod
    def of(cls, row: SavedUrlRow) -> SavedUrl:
        indexed = row.last_indexed.astimezone(UTC).isoformat() if row.last_indexed else None
        return cls(id=row.id, name=row.name, url=row.url, last_indexed=indexed)


class PageMeta(BaseModel):
    page_number: int
    total_pages: int
    total_count: int


class SavedUrlPage(BaseModel):
    urls: list[SavedUrl]
    meta: PageMeta


async def save(owner: Owner, *, name: str, url: str, last_indexed: datetime | None, cap: int) -> SavedUrl:
    row = await repo.create_url(owner, name=name, url=url, last_indexed=last_indexed, cap=cap)
    if row is None:
        raise Conflict(f"at most {cap} saved URLs per user: delete one before saving another")
    return SavedUrl.of(row)


async def update(
    owner: Owner,
    url_id: Any,
    *,
    name: str | None = None,
    url: str | None = None,
    last_indexed: datetime | None = None,
    is_deleted: bool | None = None,
) -> SavedUrl:
    """Change the given fields; None means "unchanged" (the local binary sends `url: null` to keep the URL),
    `is_deleted: true` deletes the URL and `false` changes nothing (a deleted URL cannot be found to revive)."""
    changes: dict[str, Any] = {"name": name, "url": url, "last_indexed": last_indexed}
    changes = {key: value for key, value in changes.items() if value is not None}
    if is_deleted:
        changes["is_deleted"] = True
    row = await repo.update_url(owner, url_id, changes)
    if row is None:
        raise NotFound("saved URL not found")
    return SavedUrl.of(row)


async def delete(owner: Owner, url_id: Any) -> None:
    if not await repo.delete_url(owner, url_id):
        raise NotFound("saved URL not found")


async def page(owner: Owner, *, limit: int, offset: int) -> SavedUrlPage:
    rows, total = await repo.list_urls(owner, limit=limit, offset=offset)
    return SavedUrlPage(
        urls=[SavedUrl.of(row) for row in rows],
        meta=PageMeta(page_number=offset // limit + 1, total_pages=math.ceil(total / limit), total_count=total),
    )
