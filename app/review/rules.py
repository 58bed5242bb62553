"""A repository's review rules: the `[review]` table of its `.adjutant.toml`.

```toml
[review]
ignore = ["docs/**", "*.snap"]
severity_floor = "low"
confidence_threshold = 0.8
disable = ["maintainability"]

[review.path_instructions]
"src/api/**" = "Every handler must check the caller owns the ids it receives."

[[review.custom_reviewers]]
name = "Migrations"
instructions = "Migrations must be reversible and never lock a large table."

[review.approval]
approve_when_clean = true
request_changes = true
block_on = "high"

[review.labels]
enabled = true
```

Unknown keys are errors, so a typo never silently switches a rule off.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import pathspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.errors import ReviewRulesInvalid
from app.review.findings import SEVERITIES, Severity
from app.review.notify.rules import NotifyRules
from app.runtime.repository_config import config_table

MAX_INSTRUCTION_CHARS = 4000


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomReviewerRule(_Rules):
    name: str = Field(min_length=1, max_length=80)
    instructions: str = Field(min_length=1, max_length=MAX_INSTRUCTION_CHARS)
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)


class ApprovalRules(_Rules):
    """When the bot may approve or request changes (it also needs a connection whose role allows it)."""

    approve_when_clean: bool = False  # approve when no kept finding is at or above `block_on`
    request_changes: bool = False  # request changes when one is
    block_on: Severity = "high"


class LabelRules(_Rules):
    enabled: bool = False
    prefix: str = Field(default="", max_length=40)
    by_severity: dict[Severity, str] = Field(default_factory=dict)  # e.g. {"critical": "security-risk"}
    by_category: dict[str, str] = Field(default_factory=dict)  # category -> label
    change_type: bool = True  # a label naming the kind of change (feature, fix, docs, tests, ...)


CommandRole = Literal["anyone", "member", "maintainer", "admin"]
Demotion = Literal["raise_threshold", "summary_only"]


class CommandRules(_Rules):
    """The role a commenter needs to run each `/adjutant` command (their platform permission on the repository,
    mapped to a team role); the pull request's author may always run them on their own pull request."""

    review: CommandRole = "member"
    ask: CommandRole = "member"
    ignore: CommandRole = "maintainer"


class RepositoryRules(_Rules):
    enabled: bool = True
    path_instructions: dict[str, str] = Field(default_factory=dict)  # glob -> extra instructions
    ignore: list[str] = Field(default_factory=list)  # globs of paths never reviewed
    severity_floor: Severity = "info"
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)  # None = the server's
    disable: list[str] = Field(default_factory=list)  # keys of default reviewers to skip
    custom_reviewers: list[CustomReviewerRule] = Field(default_factory=list, max_length=20)
    approval: ApprovalRules = ApprovalRules()
    labels: LabelRules = LabelRules()
    commands: CommandRules = CommandRules()
    # Overrides of the server's precision policy (None: the server's `[review]` setting).
    precision_floor: float | None = Field(default=None, ge=0, le=1)
    min_signals: int | None = Field(default=None, ge=1, le=10_000)
    demotion: Demotion | None = None
    notify: NotifyRules = NotifyRules()

    @field_validator("ignore")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            _spec([pattern])
        return value

    @field_validator("path_instructions")
    @classmethod
    def _instructions(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, text in value.items():
            _spec([pattern])
            if len(text) > MAX_INSTRUCTION_CHARS:
                raise ValueError(f"instructions for {pattern!r} are longer than {MAX_INSTRUCTION_CHARS} characters")
        return value

    @field_validator("custom_reviewers")
    @classmethod
    def _unique_names(cls, value: list[CustomReviewerRule]) -> list[CustomReviewerRule]:
        names = [entry.name.lower() for entry in value]
        if len(names) != len(set(names)):
            raise ValueError("custom reviewer names must be unique")
        return value

    @cached_property
    def _ignored(self) -> pathspec.GitIgnoreSpec:
        return _spec(self.ignore)

    @cached_property
    def _instruction_specs(self) -> list[tuple[pathspec.GitIgnoreSpec, str]]:
        return [(_spec([pattern]), text) for pattern, text in self.path_instructions.items()]

    def ignored(self, path: str) -> bool:
        return bool(self.ignore) and self._ignored.match_file(path)

    def instructions_for(self, path: str) -> list[str]:
        return [text for spec, text in self._instruction_specs if spec.match_file(path)]


def _spec(patterns: list[str]) -> pathspec.GitIgnoreSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid glob: {exc}") from None


def load_rules(text: str | None) -> RepositoryRules:
    """The `[review]` table of an `.adjutant.toml`; defaults when there is no file or no table."""
    table = config_table(text, "review", ReviewRulesInvalid)
    if table is None:
        return RepositoryRules()
    try:
        return RepositoryRules.model_validate(table)
    except ValidationError as exc:
        problems = [
            {"field": "review." + ".".join(str(p) for p in error["loc"]), "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        raise ReviewRulesInvalid(f".adjutant.toml: {summary}", errors=problems) from None


__all__ = [
    "SEVERITIES",
    "ApprovalRules",
    "CommandRules",
    "CustomReviewerRule",
    "LabelRules",
    "RepositoryRules",
    "load_rules",
]
