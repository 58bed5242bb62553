"""The validation pass: findings off the diff, about unchanged code, below the bars, or repeated are dropped,
each with its reason; the rest are anchored on lines the diff shows."""

from __future__ import annotations

from app.review.findings import Finding
from app.review.rules import RepositoryRules, load_rules
from app.review.validation import reason_kind, validate
from tests.review.diffs import file_diff

BEFORE = "".join(f"line_{i} = setup({i})\n" for i in range(1, 61))
AFTER_LINES = BEFORE.splitlines(keepends=True)
AFTER_LINES[19] = "query = 'SELECT * FROM users WHERE id=' + user_id\n"  # new-side line 20
AFTER_LINES.insert(20, "rows = db.execute(query)\n")  # new-side line 21
FILES = [
    file_diff("app/users.py", BEFORE, "".join(AFTER_LINES)),
    file_diff("app/legacy.py", "old = 1\n", None),
    file_diff("docs/notes.py", "a = 1\n", "a = 2\n"),
]


def make(line: int, title: str = "SQL injection through user_id", **fields) -> Finding:
    values = {
        "path": "app/users.py",
        "line": line,
        "end_line": fields.pop("end_line", line),
        "severity": "critical",
        "category": "security",
        "confidence": 0.9,
        "title": title,
        "explanation": "user_id is concatenated into the SQL text, so a caller can inject SQL.",
        "evidence": "query = 'SELECT * FROM users WHERE id=' + user_id",
        "reviewer": "security",
    }
    return Finding(**(values | fields))


def run(findings, rules=None, **kwargs):
    kept, dropped = validate(findings, FILES, rules or RepositoryRules(), **({"threshold": 0.7} | kwargs))
    return kept, {f.title: reason for f, reason in dropped}


def test_a_finding_on_an_added_line_quoting_it_is_kept():
    kept, dropped = run([make(20)])
    assert [(f.line, f.end_line) for f in kept] == [(20, 20)] and dropped == {}


def test_findings_off_the_diff_or_in_files_it_does_not_change_are_dropped():
    kept, dropped = run(
        [
            make(45, "Far away", evidence="line_45 = setup(45)"),
            make(3, "Elsewhere", path="app/other.py"),
            make(1, "In a deleted file", path="app/legacy.py", evidence="old = 1"),
            make(1, "Ignored", path="docs/notes.py", evidence="a = 2"),
        ],
        rules=load_rules('[review]\nignore = ["docs/**"]'),
    )
    assert kept == []
    assert {title: reason_kind(reason) for title, reason in dropped.items()} == {
        "Far away": "off_diff",
        "Elsewhere": "not_in_diff",
        "In a deleted file": "not_in_diff",
        "Ignored": "ignored",
    }


def test_findings_about_unchanged_code_are_dropped_even_next_to_a_change():
    kept, dropped = run(
        [
            make(18, "About the context line", evidence="line_18 = setup(18)"),
            make(20, "Made-up evidence", evidence="cursor.executemany(statement)"),
            make(21, "Quoted as the model saw it", evidence="    21 + rows = db.execute(query)"),
        ]
    )
    assert [f.title for f in kept] == ["Quoted as the model saw it"]
    assert dropped["About the context line"].startswith("unchanged_code: its evidence quotes unchanged")
    assert dropped["Made-up evidence"].startswith("unchanged_code: its evidence is not in the changed lines")


def test_the_context_window_is_configurable_and_findings_are_anchored_on_visible_lines():
    near = make(23, "Near the change", evidence="rows = db.execute(query)", explanation="first")
    beyond = make(26, "Just past the hunk", evidence="rows = db.execute(query)", explanation="second")
    spanning = make(10, "Spanning", end_line=40, explanation="third")
    kept, dropped = run([near, beyond, spanning], context_window=5)
    anchored = {f.title: (f.line, f.end_line) for f in kept}
    assert anchored["Near the change"] == (23, 23)  # a context line of the hunk: shown, kept where it is
    assert anchored["Just past the hunk"] == (21, 21)  # not shown by the diff: moved onto the added line
    assert anchored["Spanning"] == (17, 24)  # narrowed to the lines the hunk shows
    unquoted = near.model_copy(update={"evidence": ""})  # nothing to re-anchor it by
    kept, dropped = run([unquoted], context_window=0)
    assert kept == [] and reason_kind(dropped["Near the change"]) == "off_diff"
    kept, _ = run([near], context_window=0)
    assert [(f.line, f.end_line) for f in kept] == [(21, 21)]  # its evidence names the added line


def test_severity_floor_and_confidence_thresholds_of_server_repository_reviewer_and_category():
    findings = [
        make(20, "Low severity", severity="low"),
        make(20, "Unsure", confidence=0.6),
        make(21, "Repository bar", confidence=0.8, category="performance", evidence="rows = db.execute(query)"),
        make(
            21,
            "Reviewer bar",
            confidence=0.85,
            reviewer="maintainability",
            category="naming",
            evidence="rows = db.execute(query)",
        ),
        make(21, "Category bar", confidence=0.9, category="style", reviewer="x", evidence="rows = db.execute(query)"),
    ]
    kept, dropped = run(
        findings,
        rules=load_rules('[review]\nseverity_floor = "medium"\nconfidence_threshold = 0.82'),
        thresholds={"maintainability": 0.9},
        category_thresholds={"style": 0.95},
    )
    assert kept == []
    assert dropped["Low severity"] == "severity_floor: low is below the floor medium"
    assert dropped["Unsure"] == "confidence: 0.60 is below the threshold 0.82"
    assert dropped["Repository bar"] == "confidence: 0.80 is below the threshold 0.82"
    assert dropped["Reviewer bar"] == "confidence: 0.85 is below the threshold 0.90"
    assert dropped["Category bar"] == "confidence: 0.90 is below the threshold 0.95"


def test_duplicates_keep_the_most_severe_and_confident_and_distinct_problems_stay():
    first = make(20, "SQL injection via user_id", severity="high", confidence=0.8, reviewer="correctness")
    best = make(20, "User input concatenated into SQL query", reviewer="security")
    echo = make(
        21,
        "Possible SQL injection in query",
        category="Security",
        confidence=0.75,
        reviewer="business_logic",
        evidence="rows = db.execute(query)",
    )
    other = make(
        21,
        "Result rows never closed",
        category="resources",
        explanation="The cursor from db.execute is not closed and leaks a connection per request.",
        evidence="rows = db.execute(query)",
        reviewer="correctness",
    )
    kept, dropped = run([first, echo, other, best])
    assert [f.title for f in kept] == ["User input concatenated into SQL query", "Result rows never closed"]
    assert set(dropped) == {"SQL injection via user_id", "Possible SQL injection in query"}
    assert all(reason.startswith(f"duplicate: of {best.fingerprint} (security:") for reason in dropped.values())


def test_fingerprints_survive_rewording_of_case_and_punctuation_and_small_moves():
    a = make(20, "SQL injection, via user_id!")
    b = make(22, "sql injection via USER_ID", explanation="other words")
    c = make(20, "Connection leak")
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert make(20).fingerprint != make(20, path="app/other.py").fingerprint


def test_a_misnumbered_finding_moves_to_the_one_added_line_its_evidence_quotes():
    misnumbered = make(48, "Misnumbered", explanation="one")
    vague = make(48, "Vague", evidence="setup(", explanation="two")
    kept, dropped = run([misnumbered, vague])
    assert [(f.title, f.line) for f in kept] == [("Misnumbered", 20)]
    assert reason_kind(dropped["Vague"]) == "off_diff"
    (reported,) = [f for f, _ in validate([vague], FILES, RepositoryRules(), threshold=0.7)[1]]
    assert reported.line == 48  # a dropped finding is listed as the model reported it
