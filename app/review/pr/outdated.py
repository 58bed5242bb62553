"""Following the bot's comments across a push: the diff between the last reviewed head and the new one says
which commented lines changed (the comment is outdated) and where the others moved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from app.db.models import PrReviewComment
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


# After a force-push or rebase there is no diff from the reviewed head to the new one: each comment is looked
# for in the pull request's new diff instead, by the text it was about when the file at the commit it was
# posted on can still be read, else by its line numbers.
ReadAt = Callable[[str, str], Awaitable[str | None]]


def relocate(line: int, end_line: int, old_lines: list[str] | None, diff: FileDiff | None) -> tuple[int, int] | None:
    """Where the comment's lines are in the new diff: the same text at the same place, else at its one other
    place; None when the diff no longer shows it (or shows it in several places, which would be a guess)."""
    if diff is None or diff.status == "removed":
        return None
    shown = {item.new_no: item.text for hunk in diff.hunks for item in hunk.lines if item.new_no is not None}
    span = range(line, end_line + 1)
    if old_lines is None:
        return (line, end_line) if all(number in shown for number in span) else None
    if [shown.get(number) for number in span] == old_lines:
        return line, end_line
    starts = [n for n in shown if all(shown.get(n + i) == text for i, text in enumerate(old_lines))]
    return (starts[0], starts[0] + len(old_lines) - 1) if len(starts) == 1 else None


async def relocate_all(
    comments: Sequence[PrReviewComment], by_path: dict[str, FileDiff], read_at: ReadAt
) -> dict[int, tuple[int, int] | None]:
    """`relocate` for every comment, reading each file once per commit."""
    texts: dict[tuple[str, str], list[str] | None] = {}
    moves: dict[int, tuple[int, int] | None] = {}
    for comment in comments:
        key = (comment.path, comment.commit_sha)
        if key not in texts:
            text = await read_at(comment.path, comment.commit_sha) if comment.commit_sha else None
            texts[key] = text.splitlines() if text is not None else None
        lines = texts[key]
        old = lines[comment.line - 1 : comment.end_line] if lines is not None else None
        if old is not None and len(old) != comment.end_line - comment.line + 1:
            old = None  # the file is shorter than the comment's lines: the text is not known
        moves[comment.id] = relocate(comment.line, comment.end_line, old, by_path.get(comment.path))
    return moves
