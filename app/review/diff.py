"""Unified diffs as data: files, hunks and lines with their numbers on both sides.

Reads `git diff` output (extended headers, renames, binary files, /dev/null sides, "\\ No newline at end of
file") and header-less per-file diffs such as the IDE's snapshot diffs (docs/review-protocol.md §2), which
carry only `---`/`+++` lines or nothing but hunks. Hunk line counts decide where a hunk ends, so a deleted
line that happens to start with `--` is never mistaken for a file header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

LineKind = Literal["add", "del", "ctx"]
FileStatus = Literal["added", "modified", "removed", "renamed"]

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
GIT_HEADER = re.compile(r"^diff --git (.+)$")
BINARY_LINE = re.compile(r"^Binary files (.+) and (.+) differ$")
DEV_NULL = "/dev/null"
# What the IDE's `status` letters mean (git's name-status letters; untracked files come as A).
STATUS_LETTERS: dict[str, FileStatus] = {
    "A": "added",
    "C": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "U": "modified",
    "T": "modified",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DiffLine(_Frozen):
    kind: LineKind
    text: str
    old_no: int | None
    new_no: int | None


class Hunk(_Frozen):
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    header: str
    lines: list[DiffLine]

    @property
    def deletion_only(self) -> bool:
        return not any(line.kind == "add" for line in self.lines)

    @property
    def label(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"


class FileDiff(_Frozen):
    path: str  # new side; the old path for a removed file
    old_path: str | None  # set when it differs from `path` (renames, copies)
    status: FileStatus
    hunks: list[Hunk]
    binary: bool = False

    @property
    def additions(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.kind == "add")

    @property
    def deletions(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.kind == "del")

    def changed_lines(self) -> set[int]:
        """New-side numbers of added lines."""
        return {line.new_no for hunk in self.hunks for line in hunk.lines if line.kind == "add" and line.new_no}

    def new_side_lines(self) -> set[int]:
        """New-side numbers of added and context lines: every line a comment can be anchored to."""
        return {line.new_no for hunk in self.hunks for line in hunk.lines if line.new_no is not None}

    def line_texts(self, kind: LineKind) -> dict[int, str]:
        """Text of the lines of one kind, by new-side number (old-side number for deletions)."""
        found: dict[int, str] = {}
        for hunk in self.hunks:
            for line in hunk.lines:
                if line.kind == kind:
                    number = line.old_no if kind == "del" else line.new_no
                    if number is not None:
                        found[number] = line.text
        return found


class _FileBuilder:
    """A file being read: its header facts, then its hunks."""

    def __init__(self, old: str | None = None, new: str | None = None) -> None:
        self.old = old
        self.new = new
        self.added = False
        self.removed = False
        self.renamed = False
        self.copied = False
        self.binary = False
        self.hunks: list[Hunk] = []

    def build(self) -> FileDiff:
        added = self.added or self.old == DEV_NULL
        removed = self.removed or self.new == DEV_NULL
        old = None if self.old == DEV_NULL else self.old
        new = None if self.new == DEV_NULL else self.new
        path = new or old or ""
        old_path = old if old and new and old != new else None
        if added or self.copied:
            status: FileStatus = "added"
        elif removed:
            status = "removed"
        elif self.renamed or old_path:
            status = "renamed"
        else:
            status = "modified"
        return FileDiff(path=path, old_path=old_path, status=status, hunks=self.hunks, binary=self.binary)


def parse_unified_diff(text: str) -> list[FileDiff]:
    """Every file of a unified diff, in order; lines outside any file or hunk are ignored."""
    files: list[_FileBuilder] = []
    current: _FileBuilder | None = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        raw = lines[index].removesuffix("\r")
        index += 1
        if (match := GIT_HEADER.match(raw)) is not None:
            current = _FileBuilder(*_split_git_paths(match.group(1)))
            files.append(current)
            continue
        if raw.startswith("--- ") and index < len(lines) and lines[index].startswith("+++ "):
            old, new = _header_path(raw[4:]), _header_path(lines[index].removesuffix("\r")[4:])
            index += 1
            if current is None or current.hunks or current.binary:
                current = _FileBuilder(old, new)
                files.append(current)
            else:  # the git header named the file already; these lines are authoritative for odd names
                current.old, current.new = old, new
            continue
        if (match := HUNK_HEADER.match(raw)) is not None:
            if current is None:  # a bare hunk: the caller knows which file it belongs to
                current = _FileBuilder()
                files.append(current)
            hunk, index = _read_hunk(match, lines, index)
            current.hunks.append(hunk)
            continue
        if BINARY_LINE.match(raw) and (current is None or current.hunks or current.binary):
            current = _FileBuilder()  # a header-less diff of a binary file
            files.append(current)
        if current is not None:
            _read_extended_header(current, raw)
    return [builder.build() for builder in files]


def from_file_diffs(items: Iterable[tuple[str, str, str | None]]) -> list[FileDiff]:
    """Per-file diffs as the IDE sends them: (file_path, diff text, status). The file_path names the file
    whatever the diff's headers say (snapshot diffs may have none); the status letter (A/D/M/R/C/U) or word
    is used unless the diff itself shows an added, removed or renamed file."""
    result: list[FileDiff] = []
    for file_path, text, status in items:
        parsed = parse_unified_diff(text or "")
        hunks = [hunk for item in parsed for hunk in item.hunks]
        binary = any(item.binary for item in parsed)
        own = next((item.status for item in parsed if item.status != "modified"), None)
        old_path = next((item.old_path for item in parsed if item.old_path), None)
        given = _status_of(status)
        final: FileStatus = own or given or "modified"
        if final == "renamed" and old_path is None:
            final = "modified"  # a rename we cannot name the source of reads as a modification
        result.append(
            FileDiff(
                path=file_path,
                old_path=old_path if old_path != file_path else None,
                status=final,
                hunks=hunks,
                binary=binary,
            )
        )
    return result


def _status_of(status: str | None) -> FileStatus | None:
    if not status:
        return None
    word = status.strip()
    if word.lower() in ("added", "modified", "removed", "renamed"):
        return word.lower()  # type: ignore[return-value]
    if word.lower() == "deleted":
        return "removed"
    return STATUS_LETTERS.get(word[:1].upper())


def _read_hunk(match: re.Match[str], lines: list[str], index: int) -> tuple[Hunk, int]:
    old_start, new_start = int(match.group(1)), int(match.group(3))
    old_count = 1 if match.group(2) is None else int(match.group(2))
    new_count = 1 if match.group(4) is None else int(match.group(4))
    old_left, new_left = old_count, new_count
    old_no, new_no = old_start, new_start
    body: list[DiffLine] = []
    while index < len(lines) and (old_left > 0 or new_left > 0 or lines[index].startswith("\\")):
        raw = lines[index].removesuffix("\r")
        marker, content = raw[:1], raw[1:]
        if marker == "\\":  # "\ No newline at end of file": about the line before, not a line itself
            index += 1
            continue
        if marker == "+" and new_left > 0:
            body.append(DiffLine(kind="add", text=content, old_no=None, new_no=new_no))
            new_no, new_left = new_no + 1, new_left - 1
        elif marker == "-" and old_left > 0:
            body.append(DiffLine(kind="del", text=content, old_no=old_no, new_no=None))
            old_no, old_left = old_no + 1, old_left - 1
        elif marker in (" ", "") and old_left > 0 and new_left > 0:
            # An empty line is a context line whose leading space an editor or mail client stripped.
            body.append(DiffLine(kind="ctx", text=content, old_no=old_no, new_no=new_no))
            old_no, new_no = old_no + 1, new_no + 1
            old_left, new_left = old_left - 1, new_left - 1
        else:
            break  # a truncated hunk: keep what it had
        index += 1
    hunk = Hunk(
        old_start=old_start,
        old_count=old_count,
        new_start=new_start,
        new_count=new_count,
        header=match.group(5).strip(),
        lines=body,
    )
    return hunk, index


def _read_extended_header(current: _FileBuilder, raw: str) -> None:
    if raw.startswith("new file mode"):
        current.added = True
    elif raw.startswith("deleted file mode"):
        current.removed = True
    elif raw.startswith("rename from "):
        current.old, current.renamed = _unquote(raw[len("rename from ") :]), True
    elif raw.startswith("rename to "):
        current.new, current.renamed = _unquote(raw[len("rename to ") :]), True
    elif raw.startswith("copy from "):
        current.old, current.copied = _unquote(raw[len("copy from ") :]), True
    elif raw.startswith("copy to "):
        current.new, current.copied = _unquote(raw[len("copy to ") :]), True
    elif raw.startswith("GIT binary patch"):
        current.binary = True
    elif (match := BINARY_LINE.match(raw)) is not None:
        current.binary = True
        old, new = _header_path(match.group(1)), _header_path(match.group(2))
        current.old = current.old or old
        current.new = current.new or new
        if old == DEV_NULL:
            current.added = True
        if new == DEV_NULL:
            current.removed = True


def _split_git_paths(rest: str) -> tuple[str | None, str | None]:
    """The two paths of `diff --git a/X b/Y` (quoted, or unquoted with spaces when both halves agree)."""
    if rest.startswith('"'):
        end = _quoted_end(rest)
        old, tail = rest[: end + 1], rest[end + 2 :]
        return _header_path(old), _header_path(tail)
    if " " not in rest:
        return None, None
    middle = len(rest) // 2  # `a/p b/p`: the same path on both sides splits in the middle
    if rest[middle] == " " and rest[:middle].removeprefix("a/") == rest[middle + 1 :].removeprefix("b/"):
        return _header_path(rest[:middle]), _header_path(rest[middle + 1 :])
    position = rest.find(" b/")
    if position > 0:
        return _header_path(rest[:position]), _header_path(rest[position + 1 :])
    old, _, new = rest.partition(" ")
    return _header_path(old), _header_path(new)


def _quoted_end(text: str) -> int:
    position = 1
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        if text[position] == '"':
            return position
        position += 1
    return len(text) - 1


def _header_path(value: str) -> str:
    """A path from a `---`/`+++`/Binary line: unquoted, without its a/ b/ prefix or a trailing timestamp."""
    value = value.strip()
    if value.startswith('"'):
        value = _unquote(value)
    elif "\t" in value:
        value = value.split("\t", 1)[0]  # difflib and GNU diff append a tab and a timestamp
    if value == DEV_NULL:
        return value
    for prefix in ("a/", "b/", "i/", "w/", "c/", "o/"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


def _unquote(value: str) -> str:
    """git's C-style quoting: escapes and octal bytes (non-ASCII names arrive as UTF-8 octets)."""
    if not (len(value) >= 2 and value.startswith('"') and value.endswith('"')):
        return value
    body = value[1:-1]
    out = bytearray()
    position = 0
    while position < len(body):
        char = body[position]
        if char == "\\" and position + 1 < len(body):
            following = body[position + 1]
            digits = body[position + 1 : position + 4]
            if len(digits) == 3 and all(d in "01234567" for d in digits):
                out.append(int(digits, 8))
                position += 4
                continue
            out.extend(ESCAPES.get(following, following).encode())
            position += 2
            continue
        out.extend(char.encode())
        position += 1
    return out.decode("utf-8", errors="replace")
