"""What a reviewer reports: one finding per problem, anchored to new-side lines of the diff.

`ReportedFinding` is the shape a model sends through `report_findings` (validated entry by entry);
`Finding` is what the engine keeps, with the reviewer that found it and a fingerprint that stays the same
when the same problem is reported again, so a pull request never gets the same comment twice.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK: dict[str, int] = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}
LINE_BUCKET = 10  # lines: a finding that moves a few lines within a bucket keeps its fingerprint
WORDS = re.compile(r"[a-z0-9]+")
BLANK_LEAD = re.compile(r"\A(?:[ \t]*\r?\n)+")


def normalise(text: str) -> str:
    """Lower-case words only: case, punctuation and spacing never change a fingerprint."""
    return " ".join(WORDS.findall(text.lower()))


class ReportedFinding(BaseModel):
    """One entry of `report_findings`, as the model must send it."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=1000, description="File path exactly as in the diff header.")
    line: int = Field(ge=1, description="First new-side line number the finding is about (an added line).")
    end_line: int | None = Field(default=None, ge=1, description="Last new-side line; omit for one line.")
    severity: Severity = Field(description="critical, high, medium, low or info.")
    category: str = Field(min_length=1, max_length=60, description="e.g. security, correctness, performance.")
    confidence: float = Field(ge=0, le=1, description="How sure you are that this is a real problem, 0..1.")
    title: str = Field(min_length=1, max_length=200, description="One line naming the problem.")
    explanation: str = Field(min_length=1, max_length=4000, description="Why it is a problem and its effect.")
    evidence: str = Field(
        min_length=1, max_length=4000, description="The changed lines it is about, copied verbatim from the diff."
    )
    suggestion: str | None = Field(
        default=None, max_length=8000, description="Optional replacement code for those lines (only the code)."
    )

    @field_validator("path", "category", "title", "explanation", "evidence", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("suggestion", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        """Blank lines around the code go; the indentation of its first line stays, since a committable
        suggestion replaces whole lines and Python code without its indent is a different program."""
        if not isinstance(value, str):
            return value
        return BLANK_LEAD.sub("", value).rstrip() or None

    @model_validator(mode="after")
    def _range(self) -> ReportedFinding:
        if self.end_line is not None and self.end_line < self.line:
            raise ValueError("end_line must not be before line")
        if ".." in self.path.split("/") or self.path.startswith("/"):
            raise ValueError("path must be repository-relative without '..'")
        return self

    def to_finding(self, reviewer: str) -> Finding:
        return Finding(
            path=self.path,
            line=self.line,
            end_line=self.end_line or self.line,
            severity=self.severity,
            category=self.category.lower(),
            confidence=self.confidence,
            title=self.title,
            explanation=self.explanation,
            evidence=self.evidence,
            suggestion=self.suggestion or None,
            reviewer=reviewer,
        )


class ReportFindingsInput(BaseModel):
    """The arguments of `report_findings` (the schema the model sees)."""

    findings: list[ReportedFinding] = Field(
        description="Every problem found; an empty list when the change has none worth reporting."
    )


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    severity: Severity
    category: str
    confidence: float = Field(ge=0, le=1)
    title: str
    explanation: str
    evidence: str = ""
    suggestion: str | None = None
    reviewer: str = ""

    @property
    def fingerprint(self) -> str:
        """Path, normalised category and title, and the line's bucket; equal for the same problem re-reported."""
        key = "\x1f".join((self.path, normalise(self.category), normalise(self.title), str(self.line // LINE_BUCKET)))
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]


def at_least(severity: str, floor: str) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[floor]
