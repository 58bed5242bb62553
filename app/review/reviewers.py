"""The reviewers: each one pass over the diff with its own focus, tools and confidence threshold."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from app.review.rules import RepositoryRules


class ReviewerSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=80)
    display_name: str
    instructions: str
    confidence_threshold: float = Field(ge=0, le=1)
    tools_enabled: bool = True
    custom: bool = False
    reads_tickets: bool = False  # told the linked tickets (they cost tokens every other reviewer would ignore)


SECURITY = ReviewerSpec(
    key="security",
    display_name="Security",
    instructions=(
        "Find security problems the change introduces: injection (SQL, shell, template, path traversal), "
        "missing authentication or ownership checks, secrets in code or logs, unsafe deserialisation, "
        "server-side requests to user-chosen addresses, weak cryptography, unsafe defaults. Name the "
        "untrusted input and how it reaches the dangerous call."
    ),
    confidence_threshold=0.7,
)
CORRECTNESS = ReviewerSpec(
    key="correctness",
    display_name="Correctness and error handling",
    instructions=(
        "Find bugs: wrong conditions, off-by-one errors, wrong variables, None/empty cases, exceptions that "
        "are swallowed or too broad, resources not closed, missing awaits, race conditions, broken edge cases "
        "and behaviour that contradicts the surrounding code. Say what input makes it fail and what happens."
    ),
    confidence_threshold=0.7,
)
PERFORMANCE = ReviewerSpec(
    key="performance",
    display_name="Performance",
    instructions=(
        "Find performance problems the change introduces: work repeated in loops, quadratic algorithms on "
        "inputs that can be large, N+1 queries, blocking calls on an event loop, unbounded memory or "
        "unbounded result sets. Report only what matters at realistic sizes."
    ),
    confidence_threshold=0.75,
)
MAINTAINABILITY = ReviewerSpec(
    key="maintainability",
    display_name="Maintainability",
    instructions=(
        "Find maintainability problems that will cause bugs later: duplicated logic that must change in "
        "step, misleading names or comments, dead code left behind, functions doing two unrelated things. "
        "No style preferences, formatting or naming taste."
    ),
    confidence_threshold=0.8,
)
BUSINESS_LOGIC = ReviewerSpec(
    key="business_logic",
    display_name="Business logic",
    instructions=(
        "Check the change against the linked tickets and the pull request description: acceptance "
        "criteria that are not met or are contradicted, requirements implemented differently than stated, "
        "cases the ticket names that the code does not handle. Without tickets or a description, report "
        "only logic that contradicts itself."
    ),
    confidence_threshold=0.7,
    reads_tickets=True,
)
DEFAULT_REVIEWERS: tuple[ReviewerSpec, ...] = (SECURITY, CORRECTNESS, PERFORMANCE, MAINTAINABILITY, BUSINESS_LOGIC)
CUSTOM_THRESHOLD = 0.7


def custom_reviewer(name: str, instructions: str, *, confidence_threshold: float | None = None) -> ReviewerSpec:
    """A team's or repository's own reviewer; its key is derived from its name."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "custom"
    return ReviewerSpec(
        key=f"custom_{slug}"[:80],
        display_name=name,
        instructions=instructions,
        confidence_threshold=CUSTOM_THRESHOLD if confidence_threshold is None else confidence_threshold,
        custom=True,
        reads_tickets=True,
    )


def reviewers_for(rules: RepositoryRules, base: tuple[ReviewerSpec, ...] = DEFAULT_REVIEWERS) -> list[ReviewerSpec]:
    """The base reviewers minus those the repository disables, plus its custom reviewers."""
    chosen = [reviewer for reviewer in base if reviewer.key not in rules.disable]
    for entry in rules.custom_reviewers:
        chosen.append(custom_reviewer(entry.name, entry.instructions, confidence_threshold=entry.confidence_threshold))
    return chosen
