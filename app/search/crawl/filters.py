"""Which listed repositories a crawl indexes: archived, forks, languages, size and last push, each a reason."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from app.integrations.repository_lists import ScmRepository


class CrawlFilters(BaseModel):
    """What a crawl leaves out. By default archived repositories and forks are left out; nothing else is."""

    include_archived: bool = Field(default=False, description="Index archived repositories too.")
    include_forks: bool = Field(default=False, description="Index forks too.")
    languages: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Only repositories whose main language (as the service reports it) is one of these, compared "
        "without case; empty: any language.",
    )
    max_size_kb: int | None = Field(
        default=None, ge=1, le=100_000_000, description="Leave out repositories the service reports larger."
    )
    pushed_since: datetime | None = Field(
        default=None, description="Leave out repositories last pushed before this time (ISO 8601; UTC if naive)."
    )

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v or len(v) > 50 for v in cleaned):
            raise ValueError("each language is 1 to 50 characters")
        return cleaned

    @field_validator("pushed_since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @property
    def needs_languages(self) -> bool:
        return bool(self.languages)


def filtered_out(repo: ScmRepository, filters: CrawlFilters) -> str | None:
    """Why the crawl leaves `repo` out (a reason word, then `: ` and the detail), or None to index it. A size
    or push time the service did not report passes (leaving out what we cannot judge would hide repositories
    silently)."""
    if repo.archived and not filters.include_archived:
        return "archived"
    if repo.fork and not filters.include_forks:
        return "fork"
    if filters.languages:
        wanted = {name.lower() for name in filters.languages}
        if (repo.language or "").lower() not in wanted:
            return f"language: {repo.language or 'unknown'} not in {', '.join(filters.languages)}"
    if filters.max_size_kb is not None and repo.size_kb is not None and repo.size_kb > filters.max_size_kb:
        return f"size: {repo.size_kb} KB over {filters.max_size_kb} KB"
    if filters.pushed_since is not None and repo.pushed_at is not None and repo.pushed_at < filters.pushed_since:
        return f"pushed: last {repo.pushed_at.date().isoformat()}, before {filters.pushed_since.date().isoformat()}"
    return None
