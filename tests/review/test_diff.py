"""Reading unified diffs: real `git diff` output and the IDE's header-less per-file diffs."""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest

from app.review.diff import FileDiff, from_file_diffs, parse_unified_diff

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": os.environ["PATH"],
}
SERVICE = "\n".join(f"def handler_{i}(request):\n    return respond(request, {i})\n" for i in range(30))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "old_name.py").write_text("".join(f"line {i}\n" for i in range(1, 41)))
    (tmp_path / "gone.txt").write_text("first\nsecond\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (tmp_path / "tail.txt").write_text("alpha\nbeta")  # no newline at the end
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def by_path(files: list[FileDiff]) -> dict[str, FileDiff]:
    return {f.path: f for f in files}


def test_a_real_git_diff_with_every_kind_of_change(repo: Path):
    lines = SERVICE.splitlines()
    lines[10] = "    return respond(request, 5) or None"  # line 11 changed
    lines.insert(20, "    log(request)")  # new line 21
    (repo / "service.py").write_text("\n".join(lines) + "\n")
    git(repo, "mv", "old_name.py", "new name.py")
    (repo / "new name.py").write_text((repo / "new name.py").read_text().replace("line 20\n", "line twenty\n"))
    (repo / "gone.txt").unlink()
    (repo / "added.py").write_text("import os\n\nprint(os.getcwd())\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01changed")
    (repo / "tail.txt").write_text("alpha\nbeta\ngamma")
    git(repo, "add", "-A")
    files = by_path(parse_unified_diff(git(repo, "diff", "--cached", "-M")))

    service = files["service.py"]
    assert service.status == "modified" and service.old_path is None
    assert service.changed_lines() == {11, 21}
    assert {11, 21} <= service.new_side_lines() and 8 in service.new_side_lines()
    assert service.additions == 2 and service.deletions == 1
    changed = next(line for h in service.hunks for line in h.lines if line.kind == "add" and line.new_no == 11)
    assert changed.text == "    return respond(request, 5) or None"
    deleted = next(line for h in service.hunks for line in h.lines if line.kind == "del")
    assert deleted.old_no == 11 and deleted.new_no is None

    renamed = files["new name.py"]  # a path with a space: git names it unquoted on both sides
    assert renamed.status == "renamed" and renamed.old_path == "old_name.py"
    assert renamed.changed_lines() == {20}

    assert files["gone.txt"].status == "removed" and files["gone.txt"].deletions == 2
    assert files["gone.txt"].changed_lines() == set()
    added = files["added.py"]
    assert added.status == "added" and added.changed_lines() == {1, 2, 3} and added.hunks[0].old_start == 0
    assert files["logo.png"].binary and files["logo.png"].hunks == []

    tail = files["tail.txt"]  # "\ No newline at end of file" is a marker, never a line
    assert [(line.kind, line.text) for line in tail.hunks[0].lines] == [
        ("ctx", "alpha"),
        ("del", "beta"),
        ("add", "beta"),
        ("add", "gamma"),
    ]
    assert tail.changed_lines() == {2, 3}


def test_renames_without_changes_new_binaries_and_quoted_names(repo: Path):
    git(repo, "mv", "gone.txt", "kept.txt")
    (repo / "icon.png").write_bytes(b"\x00\x01\x02")
    (repo / "naïve.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    files = by_path(parse_unified_diff(git(repo, "diff", "--cached", "-M")))
    assert files["kept.txt"].status == "renamed" and files["kept.txt"].old_path == "gone.txt"
    assert files["kept.txt"].hunks == []
    assert files["icon.png"].binary and files["icon.png"].status == "added"
    assert files["naïve.py"].changed_lines() == {1}  # git quotes it as "na\303\257ve.py"


def test_a_deleted_line_that_looks_like_a_file_header_stays_in_its_hunk(repo: Path):
    (repo / "notes.md").write_text("intro\n-- note\n--- not a header\nend\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "notes")
    (repo / "notes.md").write_text("intro\nend\n")
    files = parse_unified_diff(git(repo, "diff"))
    assert [f.path for f in files] == ["notes.md"]
    assert [line.text for line in files[0].hunks[0].lines if line.kind == "del"] == ["-- note", "--- not a header"]


def test_git_diff_with_more_context_and_several_hunks(repo: Path):
    lines = SERVICE.splitlines()
    lines[2] = "    return respond(request, -1)"
    lines[50] = "    return respond(request, -25)"
    (repo / "service.py").write_text("\n".join(lines) + "\n")
    (service,) = parse_unified_diff(git(repo, "diff", "-U1"))
    assert len(service.hunks) == 2
    assert service.changed_lines() == {3, 51}
    assert service.new_side_lines() == {2, 3, 4, 50, 51, 52}
    assert service.hunks[1].header.startswith("def handler_")


def test_a_snapshot_diff_without_git_headers_is_keyed_by_the_file_path():
    before = ["a = 1\n", "b = 2\n", "c = 3\n"]
    after = ["a = 1\n", "b = 20\n", "c = 3\n", "d = 4\n"]
    snapshot = "".join(difflib.unified_diff(before, after, "a/src/calc.py", "b/src/calc.py"))
    assert "diff --git" not in snapshot
    bare_hunk = "@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n y = 3\n"
    files = from_file_diffs(
        [
            ("src/calc.py", snapshot, "M"),
            ("lib/other.py", bare_hunk, "M"),
            ("img.png", "Binary files a/img.png and b/img.png differ\n", "M"),
        ]
    )
    calc, other, image = files
    assert calc.path == "src/calc.py" and calc.status == "modified"
    assert calc.changed_lines() == {2, 4}
    assert other.path == "lib/other.py" and other.changed_lines() == {1}
    assert image.binary


def test_the_ide_status_letter_is_used_unless_the_diff_itself_says_otherwise(repo: Path):
    (repo / "fresh.py").write_text("print(1)\n")
    git(repo, "add", "-N", "fresh.py")
    created = git(repo, "diff", "--", "fresh.py")
    modified = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    files = from_file_diffs(
        [("fresh.py", created, "M"), ("x.py", modified, "A"), ("y.py", modified, "D"), ("z.py", modified, None)]
    )
    assert [f.status for f in files] == ["added", "added", "removed", "modified"]


def test_garbage_and_empty_input_give_no_files():
    assert parse_unified_diff("") == []
    assert parse_unified_diff("hello\nworld\n") == []
    (empty,) = from_file_diffs([("a.py", "", "M")])
    assert empty.hunks == [] and not empty.binary


def test_a_truncated_hunk_keeps_what_it_has_and_the_models_round_trip():
    text = "--- a/f.py\n+++ b/f.py\n@@ -1,5 +1,6 @@\n ctx\n+new\n"
    (diff,) = parse_unified_diff(text)
    assert diff.changed_lines() == {2}
    assert FileDiff.model_validate(diff.model_dump(mode="json")) == diff
