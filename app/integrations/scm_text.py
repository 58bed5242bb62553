"""Text the SCM clients bound and slice the same way whichever service it came from: a file cut to a byte
budget, a unified diff cut on a line boundary, a diff split into per-file hunks, hunks counted."""

from __future__ import annotations

import codecs

DIFF_HEADER = "diff --git "


def file_text(data: bytes, max_bytes: int) -> tuple[str, bool]:
    """The text of `data` cut to `max_bytes`, and whether it was cut."""
    max_bytes = max(0, max_bytes)
    if len(data) <= max_bytes:
        return data.decode("utf-8", errors="replace"), False
    # A cut can split a multi-byte character: the incremental decoder holds the fragment back instead of
    # showing a replacement mark at the end.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data[:max_bytes], final=False), True


def cut_diff(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` (UTF-8) at the end of a line: a reader never sees half a line."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    head = data[: max(0, max_bytes)]
    end = head.rfind(b"\n")
    return head[: end + 1].decode("utf-8", errors="replace") if end >= 0 else ""


def split_diff(text: str) -> dict[str, str]:
    """Per changed file (its new path; the old one for a deletion), the hunks of a `git diff`-style text.

    Files without hunks (binary, mode change or pure rename) are absent."""
    patches: dict[str, str] = {}
    for block in _file_blocks(text):
        lines = block.splitlines(keepends=True)
        path = _block_path(lines)
        start = next((i for i, line in enumerate(lines) if line.startswith("@@")), None)
        if path and start is not None:
            patches[path] = "".join(lines[start:])
    return patches


def count_changes(patch: str | None) -> tuple[int, int]:
    """Added and removed lines of hunks (no file headers in `patch`)."""
    if not patch:
        return 0, 0
    added = removed = 0
    for line in patch.splitlines():
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed


def _file_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(DIFF_HEADER) and current:
            blocks.append("".join(current))
            current = []
        current.append(line)
    if current:
        blocks.append("".join(current))
    return [block for block in blocks if block.startswith(DIFF_HEADER)]


def _block_path(lines: list[str]) -> str | None:
    old = new = None
    for line in lines:
        if line.startswith("@@"):
            break
        if line.startswith("--- "):
            old = _strip_prefix(line[4:].rstrip("\n"), "a/")
        elif line.startswith("+++ "):
            new = _strip_prefix(line[4:].rstrip("\n"), "b/")
    if new and new != "/dev/null":
        return new
    if old and old != "/dev/null":
        return old
    return _header_path(lines[0].rstrip("\n")) if lines else None


def _header_path(header: str) -> str | None:
    """The path of `diff --git a/P b/P`; for equal halves the split is exact even when P holds " b/"."""
    rest = header[len(DIFF_HEADER) :]
    if not rest.startswith("a/"):
        return None
    half = (len(rest) - 1) // 2
    if rest[half] == " " and rest[:half][2:] == rest[half + 1 :][2:]:
        return rest[half + 1 :][2:]
    _, _, new = rest.rpartition(" b/")
    return new or None


def _strip_prefix(path: str, prefix: str) -> str:
    path = path.rstrip("\t")  # git ends a name holding spaces with a tab
    return path[len(prefix) :] if path.startswith(prefix) else path
