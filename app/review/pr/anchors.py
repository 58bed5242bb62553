"""Where a finding's comment goes on the pull request's diff, by each platform's rules.

Comments can only sit on lines the pull request's diff shows (added or context lines on the new side), and a
range only within one hunk. GitHub takes a range as `start_line`..`line` on the RIGHT side; GitLab takes one
line, named by its new number when added and by both numbers when unchanged; Bitbucket one new-side line.
A committable suggestion replaces exactly the commented lines, so it is offered only when the anchor covers
the finding's whole range.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.review.diff import FileDiff, Hunk
from app.review.findings import Finding


@dataclass(frozen=True)
class Anchor:
    path: str
    old_path: str | None
    line: int  # first new-side line
    end_line: int  # last new-side line, in the same hunk
    old_line: int | None  # the first line's old-side number when it is an unchanged line (GitLab needs it)
    whole_range: bool  # the anchor covers the finding's lines exactly: a suggestion can replace them

    @property
    def lines(self) -> int:
        return self.end_line - self.line + 1


def anchor(finding: Finding, diff: FileDiff | None) -> Anchor | None:
    """The finding's place on the pull request's diff, or None when its first line is not in it."""
    if diff is None or diff.status == "removed":
        return None
    hunk = _hunk_showing(diff, finding.line)
    if hunk is None:
        return None
    shown = {line.new_no: line for line in hunk.lines if line.new_no is not None}
    end = finding.line
    while end < finding.end_line and end + 1 in shown:
        end += 1
    first = shown[finding.line]
    return Anchor(
        path=diff.path,
        old_path=diff.old_path,
        line=finding.line,
        end_line=end,
        old_line=first.old_no if first.kind == "ctx" else None,
        whole_range=end == finding.end_line,
    )


def _hunk_showing(diff: FileDiff, line: int) -> Hunk | None:
    for hunk in diff.hunks:
        if any(item.new_no == line for item in hunk.lines):
            return hunk
    return None
