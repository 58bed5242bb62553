"""The review diff of an IDE review (docs/review-protocol.md §4.8): built from the client's per-file diffs, keyed
by `file_path` (snapshot diffs carry no `diff --git` header), one explicit separator and a trailing newline per
file, measured in changed lines and model tokens, and stored with the review."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.llm.tokens import OFF_LOOP_CHARS, count_text
from app.review.diff import FileDiff, from_file_diffs
from app.review.ide.wire import FileChange
from app.review.packing import render_file


@dataclass(frozen=True)
class ReviewDiff:
    stored: list[dict[str, Any]]  # [{file_path, status, diff}] with a trailing newline per diff
    files: list[FileDiff]
    text: str
    loc: int
    tokens: int

    @property
    def empty(self) -> bool:
        return not any(item["diff"].strip() for item in self.stored)

    @property
    def reviewed_files(self) -> list[str]:
        return [item["file_path"] for item in self.stored]


def stored_form(changes: Iterable[FileChange]) -> list[dict[str, Any]]:
    """One entry per file path (a repeated path keeps its last diff), each diff ending in a newline, so no
    file's last line can run into the next file's header."""
    by_path: dict[str, dict[str, Any]] = {}
    for change in changes:
        text = change.diff if not change.diff or change.diff.endswith("\n") else change.diff + "\n"
        by_path[change.file_path] = {"file_path": change.file_path, "status": change.status, "diff": text}
    return list(by_path.values())


def parsed(stored: list[dict[str, Any]]) -> list[FileDiff]:
    return from_file_diffs((item["file_path"], item["diff"], item["status"] or None) for item in stored)


def _measure(stored: list[dict[str, Any]]) -> ReviewDiff:
    files = parsed(stored)
    text = "".join(render_file(diff) for diff in files)
    loc = sum(diff.additions + diff.deletions for diff in files)
    return ReviewDiff(stored=stored, files=files, text=text, loc=loc, tokens=count_text(text))


async def build(changes: Iterable[FileChange]) -> ReviewDiff:
    stored = stored_form(changes)
    if sum(len(item["diff"]) for item in stored) > OFF_LOOP_CHARS:
        return await asyncio.to_thread(_measure, stored)  # parsing and counting megabytes blocks for a while
    return _measure(stored)
