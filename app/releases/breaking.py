"""Breaking changes: a `!` after the conventional type or scope, a `BREAKING CHANGE:` (or `BREAKING-CHANGE:`)
footer, or a `breaking` label on the pull request. The footer's text is the callout; a bare `!` uses the
description."""

from __future__ import annotations

import re

FOOTER = re.compile(r"^BREAKING[ -]CHANGES?:[ \t]*(?P<text>.*(?:\n(?!\s*\n)(?![\w-]+: ).*)*)", re.MULTILINE)
BREAKING_LABELS = frozenset({"breaking", "breaking change", "breaking-change", "semver-major", "major"})


def breaking_note(*, bang: bool, body: str, labels: list[str], description: str) -> str | None:
    """The callout text when the change breaks something, else None."""
    footer = FOOTER.search(body)
    if footer:
        text = " ".join(footer["text"].split())
        return text or description
    if bang or any(label.lower() in BREAKING_LABELS for label in labels):
        return description
    return None
