"""A repository's release-notes rules: the `[release_notes]` table of its `.adjutant.toml`.

```toml
[release_notes]
tag_pattern = "api-v*"          # what "since the last release" looks for
bots = ["release-bot"]          # authors left out, besides the usual *[bot], dependabot, renovate ...
keywords = true                 # classify free-form subjects by their first word ("Fix ...", "Add ...")

[release_notes.paths]           # first match wins; a change takes a type when all its files agree
"docs/**" = "docs"
"deploy/**" = "build"

[release_notes.labels]          # pull request labels (with an SCM connection) -> type
"enhancement" = "feat"
```

Unknown keys are errors, so a typo never silently switches a rule off. The file is read at the range's end
(`git show <to>:.adjutant.toml`), so the rules that describe a release are the ones that shipped with it.
"""

from __future__ import annotations

from functools import cached_property

import pathspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.errors import ReleaseRulesInvalid
from app.releases.changes import CHANGE_TYPES
from app.runtime.repository_config import config_table

DEFAULT_PATHS = {
    "docs/**": "docs",
    "*.md": "docs",
    "tests/**": "test",
    "test/**": "test",
    ".github/workflows/**": "ci",
    ".gitlab-ci.yml": "ci",
}
DEFAULT_LABELS = {
    "feature": "feat",
    "enhancement": "feat",
    "bug": "fix",
    "bugfix": "fix",
    "fix": "fix",
    "performance": "perf",
    "security": "security",
    "dependencies": "deps",
    "documentation": "docs",
    "docs": "docs",
    "refactor": "refactor",
    "tests": "test",
    "ci": "ci",
    "chore": "chore",
}
DEFAULT_BOTS = ("dependabot", "renovate", "github-actions", "greenkeeper", "snyk-bot", "pre-commit-ci", "mergify")


def _check_type(value: str) -> str:
    if value not in CHANGE_TYPES:
        raise ValueError(f"{value!r} is not a change type ({', '.join(CHANGE_TYPES)})")
    return value


class ReleaseRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag_pattern: str | None = Field(default=None, max_length=100)
    bots: list[str] = Field(default_factory=list, max_length=100)
    keywords: bool = True
    paths: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, kind in value.items():
            _spec(pattern)
            _check_type(kind)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return {label.lower(): _check_type(kind) for label, kind in value.items()}

    @cached_property
    def path_rules(self) -> list[tuple[pathspec.GitIgnoreSpec, str]]:
        defaults = {pattern: kind for pattern, kind in DEFAULT_PATHS.items() if pattern not in self.paths}
        return [(_spec(pattern), kind) for pattern, kind in (self.paths | defaults).items()]

    def type_of_path(self, path: str) -> str | None:
        for spec, kind in self.path_rules:
            if spec.match_file(path):
                return kind
        return None

    def type_of_label(self, label: str) -> str | None:
        return (DEFAULT_LABELS | self.labels).get(label.lower())

    def is_bot(self, name: str, email: str) -> bool:
        who = f"{name} {email}".lower()
        if name.lower().endswith("[bot]") or "[bot]@" in email.lower():
            return True
        return any(bot.lower() in who for bot in (*DEFAULT_BOTS, *self.bots))


def _spec(pattern: str) -> pathspec.GitIgnoreSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines([pattern])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid glob {pattern!r}: {exc}") from None


def load_rules(text: str | None) -> ReleaseRules:
    """The `[release_notes]` table of an `.adjutant.toml`; defaults when there is no file or no table."""
    table = config_table(text, "release_notes", ReleaseRulesInvalid)
    if table is None:
        return ReleaseRules()
    try:
        return ReleaseRules.model_validate(table)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'release_notes'}: {e['msg']}" for e in exc.errors())
        raise ReleaseRulesInvalid(f".adjutant.toml [release_notes]: {problems}") from None
