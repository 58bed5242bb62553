"""Context fusion: overlapping passages merge, duplicates go, the budget keeps the most relevant, and what is
kept is ordered by document and line and numbered."""

from __future__ import annotations

from app.answers.context import build_context, merge_overlapping
from app.answers.passages import Passage


def code(path: str, start: int, lines: list[str], relevance: float = 0.5, repo: str = "shop") -> Passage:
    return Passage(
        kind="code",
        document=f"code:{repo}:{path}",
        title=f"{repo}:{path}",
        text="\n".join(lines),
        start_line=start,
        end_line=start + len(lines) - 1,
        path=path,
        repository=repo,
        relevance=relevance,
    )


def words(text: str) -> int:
    return len(text.split())


def test_overlapping_and_touching_ranges_of_one_file_become_one_passage():
    a = code("a.py", 10, ["l10", "l11", "l12"], relevance=0.4)
    b = code("a.py", 12, ["l12", "l13"], relevance=0.7)  # overlaps a on line 12
    c = code("a.py", 14, ["l14"])  # touches b
    far = code("a.py", 30, ["l30"])  # more than two lines away: a passage of its own
    other = code("b.py", 11, ["x"])
    merged = merge_overlapping([a, other, b, far, c])
    assert len(merged) == 3
    first = merged[0]
    assert (first.start_line, first.end_line) == (10, 14)
    assert first.text == "l10\nl11\nl12\nl13\nl14" and first.relevance == 0.7
    assert merged[1].path == "b.py" and merged[2].start_line == 30


def test_a_bridging_passage_joins_two_runs():
    merged = merge_overlapping([code("a.py", 1, ["1", "2"]), code("a.py", 8, ["8", "9"]), code("a.py", 4, ["4", "5"])])
    # Lines 3, 6 and 7 fell between chunks (blank lines between definitions): shown blank.
    assert [(p.start_line, p.end_line, p.text) for p in merged] == [(1, 9, "1\n2\n\n4\n5\n\n\n8\n9")]


def test_identical_text_under_two_names_is_shown_once():
    first = code("a.py", 1, ["def f():", "    return 1"], repo="shop")
    copy = code("a.py", 1, ["def f():", "    return 1"], repo="shop-checkout")
    context = build_context([first, copy], budget_tokens=1000, count=words)
    assert [c.passage.repository for c in context.citations] == ["shop"]


def test_the_budget_keeps_the_most_relevant_then_orders_by_file_and_line():
    best = code("z.py", 50, ["alpha " * 20])
    big = code("m.py", 1, ["beta " * 500])  # never fits next to the best one
    small = code("a.py", 30, ["gamma"])
    earlier = code("z.py", 5, ["delta"])
    context = build_context([best, big, small, earlier], budget_tokens=60, count=words)
    kept = [(c.number, c.passage.path, c.passage.start_line) for c in context.citations]
    assert kept == [(1, "a.py", 30), (2, "z.py", 5), (3, "z.py", 50)]
    assert context.tokens <= 60
    rendered = context.render()
    assert rendered.index("[1] shop:a.py:30-30") < rendered.index("[3] shop:z.py:50-50")


def test_the_best_passage_is_cut_to_the_budget_rather_than_dropped():
    huge = code("a.py", 1, [f"line {n} of the only relevant function" for n in range(400)])
    context = build_context([huge], budget_tokens=300, count=words)
    (citation,) = context.citations
    assert citation.passage.start_line == 1 and citation.passage.end_line < 400
    assert citation.passage.text.count("\n") == citation.passage.end_line - 1
    assert context.tokens <= 300
