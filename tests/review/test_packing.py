"""Packing a diff into the model's budget: whole when it fits, otherwise what goes first, and every omission
listed."""

from __future__ import annotations

from app.llm.tokens import count_text
from app.review.diff import parse_unified_diff
from app.review.packing import pack
from app.review.rules import RepositoryRules, load_rules
from tests.review.diffs import file_diff, numbered


def edited(count: int, every: int, word: str = "value") -> tuple[str, str]:
    before = numbered(count, word)
    lines = before.splitlines(keepends=True)
    for i in range(0, count, every):
        lines[i] = lines[i].replace("compute", "compute_fast")
    return before, "".join(lines)


def test_a_diff_that_fits_goes_whole_with_new_side_numbers_and_one_separator_per_file():
    before = "a = 1\nb = 2\nc = 3\n"
    files = [
        file_diff("src/app.py", before, "a = 1\nb = 20\nc = 3\nd = 4\n"),
        file_diff("src/new.py", None, "print('hi')\n"),
        *parse_unified_diff("diff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n"),
        *parse_unified_diff(
            "diff --git a/old.py b/moved.py\nsimilarity index 100%\nrename from old.py\nrename to moved.py\n"
        ),
        file_diff("docs/guide.md", "x\n", "y\n"),
    ]
    (part,) = pack(files, load_rules('[review]\nignore = ["docs/**"]'), budget_tokens=10_000, max_parts=3)
    assert part.files == ["src/app.py", "src/new.py"]
    assert dict(part.omitted) == {
        "logo.png": "binary file",
        "moved.py": "no line changes",
        "docs/guide.md": "ignored by the repository's review rules",
    }
    lines = part.text.splitlines()
    assert lines[0] == "===== FILE: src/app.py (modified) ====="
    assert "     2 + b = 20" in lines and "     4 + d = 4" in lines and "     3   c = 3" in lines
    assert "       - b = 2" in lines  # deleted lines carry no number
    assert part.text.count("===== END FILE:") == 2 and part.text.endswith("===== END FILE: src/new.py =====\n")
    assert part.tokens == count_text(part.text)


def test_over_budget_lock_and_generated_files_and_deletion_only_hunks_go_first():
    code_before = numbered(40)
    lines = code_before.splitlines(keepends=True)
    lines[2] = "value_2 = compute(2) + 1\n"
    del lines[30:34]  # a hunk that only deletes
    files = [
        file_diff("src/calc.py", code_before, "".join(lines)),
        file_diff("uv.lock", None, numbered(200, "pkg")),
        file_diff("web/app.min.js", None, numbered(200, "min")),
        file_diff("vendor/lib/x.py", None, numbered(200, "vendored")),
    ]
    whole = sum(count_text(p.text) for p in pack(files, RepositoryRules(), budget_tokens=1_000_000, max_parts=1))
    (part,) = pack(files, RepositoryRules(), budget_tokens=whole // 4, max_parts=4)
    assert part.files == ["src/calc.py"]
    reasons = dict(part.omitted)
    assert reasons["uv.lock"] == "lock file (the diff is over budget)"
    assert reasons["web/app.min.js"] == "generated file (the diff is over budget)"
    assert reasons["vendor/lib/x.py"] == "vendored or build output (the diff is over budget)"
    assert reasons["src/calc.py"].startswith("1 hunk left out (@@ -28,10 +28,6 @@): only delete lines")
    assert "value_2 = compute(2) + 1" in part.text and "value_31" not in part.text


def test_a_diff_too_big_for_one_call_is_split_into_parts_within_budget():
    files = [file_diff(f"src/mod_{i}.py", *edited(60, 6, f"m{i}")) for i in range(6)]
    one_file = count_text(pack(files[:1], RepositoryRules(), budget_tokens=10**6, max_parts=1)[0].text)
    parts = pack(files, RepositoryRules(), budget_tokens=one_file * 2 + 50, max_parts=4)
    assert len(parts) == 3
    assert all(p.tokens <= one_file * 2 + 50 for p in parts)
    assert sorted(path for p in parts for path in p.files) == sorted(f.path for f in files)
    assert all(p.omitted == [] for p in parts)


def test_a_file_bigger_than_a_part_is_cut_between_hunks_and_says_so():
    big = file_diff("src/big.py", *edited(300, 15), context=1)
    assert len(big.hunks) == 20
    whole = count_text(pack([big], RepositoryRules(), budget_tokens=10**6, max_parts=1)[0].text)
    parts = pack([big], RepositoryRules(), budget_tokens=whole // 2 + 40, max_parts=3)
    assert len(parts) in (2, 3) and all(p.files == ["src/big.py"] for p in parts)
    assert all("hunks here" in p.text.splitlines()[0] for p in parts)
    shown = {n for p in parts for n in range(300) if f"value_{n} = compute_fast" in p.text}
    assert shown == set(range(0, 300, 15))  # every hunk is in exactly one part
    assert sum(p.text.count("@@ -") for p in parts) == 20


def test_when_the_parts_are_not_enough_the_largest_hunks_are_dropped_and_listed():
    small = file_diff("src/small.py", *edited(30, 10, "s"), context=1)
    large_before = numbered(40, "l")
    large_after = large_before.replace("compute", "compute_slow")  # one hunk of 80 changed lines
    large = file_diff("src/large.py", large_before, large_after)
    budget = count_text(pack([small], RepositoryRules(), budget_tokens=10**6, max_parts=1)[0].text) + 20
    parts = pack([small, large], RepositoryRules(), budget_tokens=budget, max_parts=1)
    assert [p.files for p in parts] == [["src/small.py"]]
    (reason,) = [r for path, r in parts[0].omitted if path == "src/large.py"]
    assert "larger than one model call's budget" in reason

    three = [file_diff(f"src/f{i}.py", *edited(30, 10, f"f{i}"), context=1) for i in range(3)]
    wide_before = numbered(42, "w")
    wide_lines = wide_before.splitlines(keepends=True)
    for i in range(0, 42, 6):  # hunks of two changed lines: larger than any hunk of the other files
        wide_lines[i] = wide_lines[i].replace("compute", "compute_wide")
        wide_lines[i + 1] = wide_lines[i + 1].replace("compute", "compute_wide")
    three.append(file_diff("src/wide.py", wide_before, "".join(wide_lines), context=1))
    per_file = count_text(pack(three[:1], RepositoryRules(), budget_tokens=10**6, max_parts=1)[0].text)
    parts = pack(three, RepositoryRules(), budget_tokens=per_file * 3 + 60, max_parts=1)
    assert len(parts) == 1 and parts[0].tokens <= per_file * 3 + 60
    assert [path for path, _ in parts[0].omitted] == ["src/wide.py"]
    assert "the largest hunks, dropped to fit the budget" in parts[0].omitted[0][1]


def test_nothing_reviewable_gives_no_parts():
    only_binary = parse_unified_diff("diff --git a/a.bin b/a.bin\nBinary files a/a.bin and b/a.bin differ\n")
    assert pack(only_binary, RepositoryRules(), budget_tokens=1000, max_parts=2) == []
    assert pack([], RepositoryRules(), budget_tokens=1000, max_parts=2) == []
