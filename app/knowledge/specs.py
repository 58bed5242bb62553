"""What an import is asked to read, one model per kind of source; stored as the source's config, so a later
import of the same source reads the same things again."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.db.wire_types import WireStr

NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
TAG = re.compile(r"^[a-z0-9][a-z0-9+#.\-]{0,34}$")
Name = Annotated[str, Field(pattern=NAME, description="The source's name in the team (default: derived).")]
RepoPath = Annotated[WireStr, Field(max_length=500)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None

    def default_name(self) -> str:
        raise NotImplementedError


class _Tagged(_Spec):
    tags: list[str] = Field(default_factory=list, max_length=5, description="Questions with all of these tags.")
    min_score: int | None = Field(default=None, ge=-1000, le=1_000_000, description="Lowest question score.")
    from_date: date | None = Field(default=None, description="Questions asked on or after this day (UTC).")
    to_date: date | None = Field(default=None, description="Questions asked on or before this day (UTC).")
    answers_per_question: int = Field(default=3, ge=1, le=20, description="The accepted one, then the best others.")
    min_answer_score: int = Field(default=1, ge=-1000, le=1_000_000, description="Other answers below are skipped.")
    max_questions: int = Field(default=200, ge=1, le=100_000)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags = [t.strip().lower() for t in value]
        bad = [t for t in tags if not TAG.match(t)]
        if bad:
            raise ValueError(f"not a Stack Exchange tag: {bad[0][:40]!r}")
        return tags

    @model_validator(mode="after")
    def _dates(self) -> _Tagged:
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError("from_date must not be after to_date")
        return self

    def start(self) -> datetime | None:
        return (
            datetime(self.from_date.year, self.from_date.month, self.from_date.day, tzinfo=UTC)
            if self.from_date
            else None
        )

    def end(self) -> datetime | None:
        if not self.to_date:
            return None
        return datetime(self.to_date.year, self.to_date.month, self.to_date.day, 23, 59, 59, tzinfo=UTC)


class StackExchangeSpec(_Tagged):
    kind: Literal["stackexchange"]
    site: str = Field(default="stackoverflow", pattern=r"^[a-z0-9][a-z0-9.\-]{1,59}$")

    def default_name(self) -> str:
        return f"{self.site}:{'+'.join(self.tags) or 'all'}"[:200]


class DumpSpec(_Tagged):
    kind: Literal["dump"]
    path: RepoPath = Field(description="A Posts.xml on the server (inside search.local_roots for the REST API).")
    max_questions: int = Field(default=100_000, ge=1, le=1_000_000)
    site_url: str = Field(default="https://stackoverflow.com", pattern=r"^https://[a-z0-9.\-]+$")
    site_name: str = Field(default="Stack Overflow", min_length=1, max_length=100)

    def default_name(self) -> str:
        return f"dump:{urlsplit(self.site_url).hostname}:{'+'.join(self.tags) or 'all'}"[:200]


class _Folder(_Spec):
    repository: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$", description="An indexed repository of the team."
    )
    path: RepoPath | None = Field(
        default=None,
        description="A folder on the server (inside search.local_roots "
        "for the REST API); or, with `repository`, a folder inside it.",
    )
    link_base: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://\S+$",
        description="Links are this plus the file's path (e.g. a blob URL).",
    )

    @model_validator(mode="after")
    def _one_place(self) -> _Folder:
        if not self.repository and not self.path:
            raise ValueError("name a repository (and optionally a path inside it) or a path")
        return self


class DocsSpec(_Folder):
    kind: Literal["docs"]

    def default_name(self) -> str:
        return f"docs:{self.repository or ''}:{self.path or ''}"[:200]


class FaqSpec(_Folder):
    kind: Literal["faq"]

    def default_name(self) -> str:
        return f"faq:{self.repository or ''}:{self.path or ''}"[:200]


class UrlsSpec(_Spec):
    kind: Literal["urls"]
    urls: list[Annotated[str, Field(max_length=2000, pattern=r"^https?://\S+$")]] = Field(min_length=1)

    def default_name(self) -> str:
        return f"urls:{urlsplit(self.urls[0]).hostname}"[:200]


class ConfluenceSpec(_Spec):
    kind: Literal["confluence"]
    connection: str = Field(min_length=1, max_length=100, description="A Confluence connection of the team.")
    space: str = Field(pattern=r"^~?[A-Za-z0-9_.\-:]{1,255}$")
    max_pages: int = Field(default=200, ge=1, le=200, description="Pages read (the client pages CQL up to 200).")

    def default_name(self) -> str:
        return f"confluence:{self.space}"[:200]


class DiscussionsSpec(_Spec):
    kind: Literal["discussions"]
    connection: str = Field(min_length=1, max_length=100, description="A GitHub connection of the team.")
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$", description="owner/name")
    answered_only: bool = Field(default=True, description="Only discussions with a chosen answer.")
    max_discussions: int = Field(default=500, ge=1, le=10_000)

    def default_name(self) -> str:
        return f"discussions:{self.repo}"[:200]


ImportSpec = Annotated[
    StackExchangeSpec | DumpSpec | DocsSpec | FaqSpec | UrlsSpec | ConfluenceSpec | DiscussionsSpec,
    Field(discriminator="kind"),
]
