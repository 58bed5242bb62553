"""What the model is shown of the client's tool answers (docs/review-protocol.md §5.6), and how findings become the
panel's comments (§6.4, §7.3)."""

from __future__ import annotations

from app.llm.tokens import count_text
from app.llm.types import ToolCallPart
from app.review.findings import Finding
from app.review.ide.comments import blend, review_title, tag_of
from app.review.ide.tools import CLIENT_TOOLS, input_problem, render

CHUNK = {"content": "a = 1\nb = 2", "source_details": {"file_path": "pkg/mod.py", "start_line": 4, "end_line": 5}}


def finding(path: str = "a.py", line: int = 3, **fields: object) -> Finding:
    values: dict[str, object] = {
        "path": path,
        "line": line,
        "end_line": line,
        "severity": "medium",
        "category": "maintainability",
        "confidence": 0.9,
        "title": "Duplicated parsing",
        "explanation": "The same parsing is done twice.",
        "evidence": "parse(x)",
        "suggestion": None,
        "reviewer": "agent_1",
    }
    return Finding.model_validate(values | fields)


def test_grep_answers_as_a_bare_array_or_wrapped_with_int_or_list_lines():
    for matched in ([5], 5):
        text = render("grep_search", [{"chunk_info": CHUNK, "matched_line": matched}], failed=False, budget_tokens=500)
        assert "matched line(s) 5" in text and "pkg/mod.py:4-5" in text and "    5  b = 2" in text
    wrapped = render(
        "grep_search", {"data": [{"chunk_info": CHUNK, "matched_line": [4]}]}, failed=False, budget_tokens=500
    )
    assert "matched line(s) 4" in wrapped
    assert render("grep_search", [], failed=False, budget_tokens=500) == "No matches."


def test_file_reads_paths_and_failures():
    read = render(
        "iterative_file_reader",
        {"data": {"chunk": CHUNK, "eof_reached": False, "was_summary": True, "total_lines": 90}},
        failed=False,
        budget_tokens=500,
    )
    assert read.startswith("pkg/mod.py:4-5") and "the file has 90 lines" in read and "summary" in read
    paths = render(
        "file_path_searcher", {"file_path_search": {"data": ["a.py", "b/c.py"]}}, failed=False, budget_tokens=99
    )
    assert paths == "a.py\nb/c.py"
    error = {
        "error_code": "DDT400",
        "error_type": "HANDLED_TOOL_ERROR",
        "error_subtype": None,
        "error_message": "no such file",
    }
    assert render("iterative_file_reader", error, failed=True, budget_tokens=99) == (
        "The tool failed (HANDLED_TOOL_ERROR): no such file"
    )
    plain = {"error_code": 500, "error_type": "SERVER_ERROR", "error_message": "connection refused"}
    assert "SERVER_ERROR" in render("grep_search", plain, failed=True, budget_tokens=99)
    huge = [{"chunk_info": {**CHUNK, "content": "word " * 50_000}, "matched_line": 1}]
    assert count_text(render("grep_search", huge, failed=False, budget_tokens=300)) < 400


def test_only_well_formed_calls_of_the_three_client_tools_are_forwarded():
    assert {t.name for t in CLIENT_TOOLS} == {"grep_search", "iterative_file_reader", "file_path_searcher"}
    assert all("repo_path" not in t.input_schema["properties"] for t in CLIENT_TOOLS)

    def call(name: str, **arguments: object) -> ToolCallPart:
        return ToolCallPart(id="c1", name=name, arguments=arguments)

    assert input_problem(call("iterative_file_reader", file_path="a.py", start_line=3, end_line=9)) is None
    assert "end_line" in (
        input_problem(call("iterative_file_reader", file_path="a.py", start_line=9, end_line=3)) or ""
    )
    assert "no tool" in (input_problem(call("execute_command", command="rm -rf /")) or "")


def test_findings_become_comments_one_per_line_naming_every_agent():
    lead = finding(line=3, category="security", confidence=0.95, title="SQL built from input", suggestion="use params")
    other = finding(line=3, confidence=0.85, title="Long function")
    alone = finding(path="b.py", line=7, category="performance", evidence="for x in xs:")
    comments = blend([(11, other), (12, lead), (11, alone)])
    assert [(c["file_path"], c["line_number"]) for c in comments] == [("a.py", 3), ("b.py", 7)]
    merged, single = comments
    assert merged["agent_ids"] == [12, 11] and merged["title"] == "SQL built from input"
    assert merged["tag"] == "bug" and merged["corrective_code"] == "use params"
    assert "Long function" in merged["comment"] and abs(merged["confidence"] - 0.9) < 1e-9
    assert single["tag"] == "suggestion" and single["corrective_code"] == "" and "for x in xs:" in single["rationale"]
    assert single["comment"] == alone.explanation and single["agent_ids"] == [11]
    assert [tag_of(c) for c in ("correctness", "error_handling", "Security", "style")] == [
        "bug",
        "bug",
        "bug",
        "suggestion",
    ]
    assert (
        review_title([], 2) == "No issues found in 2 files"
        and review_title(comments, 1) == "1 bug, 1 suggestion in 1 file"
    )
