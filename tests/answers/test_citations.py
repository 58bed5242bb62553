"""Citations are checked against the sources shown: out-of-range numbers leave the text and are reported,
also when a marker arrives split across stream deltas."""

from __future__ import annotations

from app.answers.citations import CitationCheck, CitationStream


def test_valid_numbers_stay_and_out_of_range_ones_are_removed_and_reported():
    check = CitationCheck(sources=3)
    text = check.clean("Totals include tax [1]. It retries [2, 7]. The cache [0] is global [9]. See [3][1].")
    assert text == "Totals include tax [1]. It retries [2]. The cache  is global . See [3][1]."
    assert check.summary() == {"cited": [1, 2, 3], "removed": [0, 7, 9]}


def test_brackets_that_are_not_markers_are_left_alone():
    check = CitationCheck(sources=1)
    assert check.clean("items[i] and [see below] and [x, 1]") == "items[i] and [see below] and [x, 1]"
    assert check.summary() == {"cited": [], "removed": []}


def test_a_marker_split_across_deltas_is_still_checked():
    check = CitationCheck(sources=2)
    stream = CitationStream(check)
    pieces = ["It opens a socket [", "1", "] and retries [", "4", ", 2", "]", " done [", "5"]
    shown = "".join(stream.feed(p) for p in pieces) + stream.flush()
    # An unclosed bracket at the very end (the model was cut off) is not a citation: shown as written.
    assert shown == "It opens a socket [1] and retries [2] done [5"
    assert check.summary() == {"cited": [1, 2], "removed": [4]}


def test_text_is_not_held_back_longer_than_a_marker_can_be():
    stream = CitationStream(CitationCheck(sources=1))
    assert stream.feed("a list [") == "a list "
    assert stream.feed("of things") == "[of things"  # cannot be a marker: released at once
    long_open = stream.feed("[1" + " " * 50)
    assert long_open.startswith("[1")  # an unclosed bracket is released after the longest marker
