"""Building unified diffs for the review tests from before/after texts, as git would show them."""

from __future__ import annotations

import difflib

from app.review.diff import FileDiff, parse_unified_diff


def file_diff_text(path: str, before: str | None, after: str | None, *, context: int = 3) -> str:
    """`git diff` text of one file (added when `before` is None, deleted when `after` is None)."""
    old = [] if before is None else before.splitlines(keepends=True)
    new = [] if after is None else after.splitlines(keepends=True)
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append("new file mode 100644\n")
    if after is None:
        header.append("deleted file mode 100644\n")
    body = difflib.unified_diff(
        old,
        new,
        "/dev/null" if before is None else f"a/{path}",
        "/dev/null" if after is None else f"b/{path}",
        n=context,
    )
    return "".join(header) + "".join(line if line.endswith("\n") else line + "\n" for line in body)


def file_diff(path: str, before: str | None, after: str | None, *, context: int = 3) -> FileDiff:
    (diff,) = parse_unified_diff(file_diff_text(path, before, after, context=context))
    return diff


def numbered(count: int, word: str = "value", start: int = 0) -> str:
    return "".join(f"{word}_{i} = compute({i})\n" for i in range(start, start + count))
