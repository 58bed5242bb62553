"""Labels from a review: one per severity and category the repository's rules name, and one for the kind of
change (read from a conventional-commit title, else from which files it touches, else from its title's verb)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.review.rules import LabelRules

CONVENTIONAL = re.compile(r"^\s*(?P<type>[a-z]+)(\([^)]*\))?!?:", re.IGNORECASE)
CONVENTIONAL_TYPES = {
    "feat": "feature",
    "feature": "feature",
    "fix": "fix",
    "bugfix": "fix",
    "docs": "docs",
    "doc": "docs",
    "test": "tests",
    "tests": "tests",
    "refactor": "refactor",
    "perf": "performance",
    "chore": "chore",
    "ci": "chore",
    "build": "chore",
    "style": "chore",
    "revert": "revert",
}
DOC_PATH = re.compile(r"(^|/)(docs?)/|\.(md|rst|adoc|txt)$", re.IGNORECASE)
TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]+$|_test\.[a-z]+$|\.(spec|test)\.[a-z]+$")
FIX_WORDS = re.compile(r"\b(fix(es|ed)?|bug|crash|regression|hotfix)\b", re.IGNORECASE)
FEATURE_WORDS = re.compile(r"^\s*(add|adds|added|implement|introduce|support|new)\b", re.IGNORECASE)


def change_type(title: str, paths: Iterable[str]) -> str | None:
    match = CONVENTIONAL.match(title or "")
    if match and match["type"].lower() in CONVENTIONAL_TYPES:
        return CONVENTIONAL_TYPES[match["type"].lower()]
    files = list(paths)
    if files and all(DOC_PATH.search(path) for path in files):
        return "docs"
    if files and all(TEST_PATH.search(path) for path in files):
        return "tests"
    if FIX_WORDS.search(title or ""):
        return "fix"
    if FEATURE_WORDS.search(title or ""):
        return "feature"
    return None


def labels_for(
    rules: LabelRules, findings: Iterable[tuple[str, str]], *, title: str, paths: Iterable[str]
) -> list[str]:
    """The labels the rules ask for, given the open findings' (severity, category) pairs; none when off."""
    if not rules.enabled:
        return []
    wanted: list[str] = []
    for severity, category in findings:
        for name in (rules.by_severity.get(severity), rules.by_category.get(category)):  # type: ignore[call-overload]
            if name and name not in wanted:
                wanted.append(name)
    if rules.change_type:
        kind = change_type(title, paths)
        if kind and kind not in wanted:
            wanted.append(kind)
    return [f"{rules.prefix}{name}"[:50] for name in wanted]
