"""bench/search_product_eval.py, the harness itself: docstrings are gone from what is indexed, line numbers
follow the removal, and a query the indexed code still contains word for word is counted as leaked."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("search_product_eval", ROOT / "bench" / "search_product_eval.py")
product_eval = importlib.util.module_from_spec(spec)
# dataclasses look their module up by name while the class is made
sys.modules.setdefault("search_product_eval", product_eval)
spec.loader.exec_module(product_eval)

SOURCE = '''import os


def load_settings(path):
    """Read the settings file and merge the environment into it.

    More words that are not the query.
    """
    values = {}
    values.update(os.environ)
    return values


def remove_lock(path):
    """Delete the lock file when the process ends."""
    # delete the lock file when the process ends
    if path:
        os.remove(path)
    return None
'''


def test_docstrings_are_removed_and_each_function_keeps_its_lines():
    text, functions = product_eval.strip_docstrings(SOURCE)
    assert '"""' not in text
    lines = text.splitlines()
    by_query = {query: (start, end) for query, start, end in functions}
    start, end = by_query["Read the settings file and merge the environment into it."]
    assert lines[start - 1] == "def load_settings(path):" and lines[end - 1] == "    return values"
    start, end = by_query["Delete the lock file when the process ends."]
    assert lines[start - 1] == "def remove_lock(path):" and lines[end - 1] == "    return None"


def test_a_query_the_code_still_says_word_for_word_is_counted_as_leaked(tmp_path):
    text, functions = product_eval.strip_docstrings(SOURCE)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "settings.py").write_text(text)
    examples = [product_eval.Example(query, "pkg/settings.py", start, end) for query, start, end in functions]
    # The comment repeats the second docstring (case and punctuation aside); the first is nowhere left.
    assert product_eval.leaked(examples, tmp_path) == 1
    assert product_eval.leaked(examples[:1], tmp_path) == 0
