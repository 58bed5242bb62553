"""Following the bot's comments across a push: the diff between the last reviewed head and the new one says
which commented lines changed (the comment is outdated) and where the others moved."""

from __future__ import annotations

from app.review.diff import FileDiff


def new_line_of(line: int, diff: FileDiff) -> int | None:
    """Where old-side `line` is on the new side, or None when the change deleted or rewrote it."""
    offset = 0
    for hunk in diff.hunks:
        if hunk.old_count == 0:  # a pure insertion after old line `old_start`
            if line <= hunk.old_start:
                break
            offset += hunk.new_count
            continue
        if line < hunk.old_start:
            break
        if line < hunk.old_start + hunk.old_count:
            for item in hunk.lines:
                if item.old_no == line:
                    return item.new_no if item.kind == "ctx" else None
            return None
        offset += hunk.new_count - hunk.old_count
    return line + offset


def follow(line: int, end_line: int, diff: FileDiff | None) -> tuple[int, int] | None:
    """The comment's lines after the change: unchanged when the file was not touched, moved when lines were
    added or removed above them, None (outdated) when any of them was changed or the file removed."""
    if diff is None:
        return line, end_line
    if diff.status == "removed":
        return None
    moved = [new_line_of(number, diff) for number in range(line, end_line + 1)]
    if any(number is None for number in moved):
        return None
    return moved[0], moved[-1]  # type: ignore[return-value]
