"""The web app's small pure parts, without a browser: redirect targets, highlighting, diffs, CSRF tokens."""

from __future__ import annotations

from app.web.diff import line_diff
from app.web.highlight import segments
from app.web.rendering import environment
from app.web.routes.auth import safe_next
from app.web.session import csrf_for, same_secret


def test_sign_in_only_redirects_within_the_app():
    assert safe_next("/app/jobs?status=DEAD") == "/app/jobs?status=DEAD"
    for hostile in ("https://evil.example/app/", "//evil.example", "/app//evil.example", "/app\\\\evil", "/docs", ""):
        assert safe_next(hostile) == "/app", hostile


def test_highlighting_marks_every_query_word_and_keeps_markup_as_text():
    parts = segments("def open_connection(host): <script>", "open_connection HOST")
    assert [text for text, marked in parts if marked] == ["open_connection", "host"]
    html = environment.from_string(
        "{% for t, m in parts %}{% if m %}<mark>{{ t }}</mark>{% else %}{{ t }}{% endif %}{% endfor %}"
    ).render(parts=parts)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_diff_shows_added_and_removed_lines():
    assert line_diff("a\nb\n", "a\nc\n") == [("same", "a"), ("del", "b"), ("add", "c")]


def test_csrf_tokens_belong_to_one_session():
    mine, theirs = csrf_for("adj_" + "a" * 43), csrf_for("adj_" + "b" * 43)
    assert mine != theirs and same_secret(mine, csrf_for("adj_" + "a" * 43))
    assert not same_secret(None, mine) and not same_secret("", mine) and not same_secret(theirs, mine)
