"""The offline token estimate: long texts are counted once and then looked up, and the lookup never answers
for a different text or grows without bound."""

from __future__ import annotations

import random

from app.llm import tokens
from app.llm.tokens import CACHE_ENTRIES, CACHED_MIN_CHARS, count_text


def varied_text(seed: int, size: int) -> str:
    rng = random.Random(seed)
    pieces = ["def ", "parse_config", "(", "x", ")", ":", "\n    ", "return ", "42", " ", "ünïcode", "\t", "{}", "é"]
    return "".join(rng.choice(pieces) for _ in range(size))


def test_a_cached_count_equals_a_fresh_count_and_a_changed_text_is_counted_again() -> None:
    tokens._TEXT_COUNTS.clear()
    for seed in range(50):
        text = varied_text(seed, CACHED_MIN_CHARS)
        first = count_text(text)
        assert first == tokens._count(text)
        assert count_text(text) == first  # from the cache now
        # One character more, or the same length with one character changed: never the old answer by mistake.
        longer, changed = text + "word", text[:-1] + ("9" if text[-1] != "9" else "8")
        assert count_text(longer) == tokens._count(longer)
        assert count_text(changed) == tokens._count(changed)
    assert len(tokens._TEXT_COUNTS) == 150


def test_short_texts_are_not_cached_and_the_cache_stays_bounded() -> None:
    tokens._TEXT_COUNTS.clear()
    count_text("short text " * 10)
    assert tokens._TEXT_COUNTS == {}
    for seed in range(CACHE_ENTRIES + 10):
        count_text(f"{seed} " + "x" * CACHED_MIN_CHARS)
    assert 0 < len(tokens._TEXT_COUNTS) <= CACHE_ENTRIES
