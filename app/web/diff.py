"""A line diff for people: which lines one text added or removed against another."""

from __future__ import annotations

import difflib
from typing import Literal

Kind = Literal["same", "add", "del"]


def line_diff(before: str, after: str) -> list[tuple[Kind, str]]:
    lines: list[tuple[Kind, str]] = []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        tag, text = line[:2], line[2:]
        if tag == "+ ":
            lines.append(("add", text))
        elif tag == "- ":
            lines.append(("del", text))
        elif tag == "  ":
            lines.append(("same", text))
    return lines
