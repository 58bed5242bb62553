"""The validation pass: only findings about what the change did, each once, survive.

A finding is dropped when its file is not in the diff or is ignored, when it is below the severity floor
or its confidence threshold, when none of its lines is an added line or within a few context lines of
one, when its evidence quotes only unchanged or deleted code, or when another finding already says the
same thing at the same place. Kept findings are re-anchored onto lines the diff shows, so a platform can
place the comment. Each dropped finding carries its reason as "<kind>: <details>".
"""

from __future__ import annotations

from collections.abc import Mapping

from app.review.diff import FileDiff
from app.review.findings import SEVERITY_RANK, Finding, at_least, normalise
from app.review.rules import RepositoryRules

DEFAULT_CONTEXT_WINDOW = 3
NEAR_LINES = 3  # two findings this close (or overlapping) are at "the same place"
SAME_MEANING = 0.3  # Jaccard similarity of content words above which two findings say the same thing
MIN_EVIDENCE_CHARS = 4  # shorter evidence lines ("}", "else:") prove nothing
MIN_ANCHOR_CHARS = 12  # a line that moves a finding must be distinctive
STOPWORDS_TEXT = (
    "the a an and or of to in on for is are be this that it its with without when not no can may might "
    "could should would will from by as at if into than then there here which who what"
)
STOPWORDS = frozenset(STOPWORDS_TEXT.split(" "))

DropReason = str


def reason_kind(reason: DropReason) -> str:
    """The stable first word of a drop reason: not_in_diff, ignored, severity_floor, confidence, off_diff,
    unchanged_code, duplicate (or critic, from the critic pass)."""
    return reason.split(":", 1)[0]


def validate(
    findings: list[Finding],
    files: list[FileDiff],
    rules: RepositoryRules,
    *,
    threshold: float,
    context_window: int = DEFAULT_CONTEXT_WINDOW,
    thresholds: Mapping[str, float] | None = None,
    category_thresholds: Mapping[str, float] | None = None,
) -> tuple[list[Finding], list[tuple[Finding, DropReason]]]:
    """(kept, dropped with reasons). A finding must clear `threshold`, the repository's threshold, its
    reviewer's (`thresholds`, by reviewer key) and its category's (`category_thresholds`, raised by feedback).
    Among duplicates the most severe, then most confident, is kept."""
    by_path = {diff.path: diff for diff in files}
    kept: list[Finding] = []
    dropped: list[tuple[Finding, DropReason]] = []
    ordered = sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], -f.confidence, f.path, f.line))
    for finding in ordered:
        diff = by_path.get(finding.path)
        reason = _place_reason(finding, diff, rules)
        if reason is None:
            reason = _bar_reason(finding, rules, threshold, thresholds, category_thresholds)
        placed = finding
        if reason is None and diff is not None:
            anchored = _anchor(finding, diff, context_window)
            if anchored is None:
                reason = f"off_diff: lines {finding.line}-{finding.end_line} are not on or next to an added line"
            else:
                reason = _evidence_reason(anchored, diff)
                placed = anchored
        if reason is None:
            original = next((k for k in kept if _same(k, placed)), None)
            if original is not None:
                reason = f"duplicate: of {original.fingerprint} ({original.reviewer}: {original.title})"
        if reason is None:
            kept.append(placed)
        else:
            dropped.append((finding, reason))  # as reported, so the reason reads against what the model said
    kept.sort(key=lambda f: (f.path, f.line, -SEVERITY_RANK[f.severity]))
    return kept, dropped


def _place_reason(finding: Finding, diff: FileDiff | None, rules: RepositoryRules) -> str | None:
    if diff is None:
        return f"not_in_diff: {finding.path} is not a file of this diff"
    if rules.ignored(finding.path):
        return f"ignored: {finding.path} is ignored by the repository's review rules"
    if diff.status == "removed":
        return f"not_in_diff: {finding.path} is deleted by this change"
    return None


def _bar_reason(
    finding: Finding,
    rules: RepositoryRules,
    threshold: float,
    thresholds: Mapping[str, float] | None,
    category_thresholds: Mapping[str, float] | None,
) -> str | None:
    if not at_least(finding.severity, rules.severity_floor):
        return f"severity_floor: {finding.severity} is below the floor {rules.severity_floor}"
    bar = max(
        threshold,
        rules.confidence_threshold or 0.0,
        (thresholds or {}).get(finding.reviewer, 0.0),
        (category_thresholds or {}).get(finding.category, 0.0),
    )
    if finding.confidence < bar:
        return f"confidence: {finding.confidence:.2f} is below the threshold {bar:.2f}"
    return None


def _anchor(finding: Finding, diff: FileDiff, window: int) -> Finding | None:
    """The finding on lines the diff shows, or None when it is not about changed lines.

    Its range must touch an added line or come within `window` lines of one; it is then narrowed to the
    lines the diff shows, and moved onto the nearest added line if none of it is visible. A finding far
    from every added line is kept only when its evidence names one place among the added lines: models
    misnumber lines more often than they misquote them."""
    added = diff.changed_lines()
    visible = diff.new_side_lines()
    span = range(finding.line, finding.end_line + 1)
    near = any(abs(line - a) <= window for line in (finding.line, finding.end_line) for a in added)
    if not near and not any(line in added for line in span):
        return _by_evidence(finding, diff)
    shown = [line for line in span if line in visible]
    if shown:
        start, end = shown[0], shown[-1]
    else:
        nearest = min(added, key=lambda a: min(abs(a - finding.line), abs(a - finding.end_line)))
        start = end = nearest
    if (start, end) == (finding.line, finding.end_line):
        return finding
    return finding.model_copy(update={"line": start, "end_line": end})


def _by_evidence(finding: Finding, diff: FileDiff) -> Finding | None:
    """The finding moved onto the added lines its evidence quotes exactly, when they are one run of lines."""
    quoted = {_plain(line) for line in finding.evidence.splitlines()}
    quoted = {line for line in quoted if len(line) >= MIN_ANCHOR_CHARS}
    if not quoted:
        return None
    places = sorted(number for number, text in diff.line_texts("add").items() if _plain(text) in quoted)
    if not places or places[-1] - places[0] >= len(places) + NEAR_LINES:
        return None  # not quoted, or quoted in several places: the reported place cannot be trusted
    return finding.model_copy(update={"line": places[0], "end_line": places[-1]})


def _evidence_reason(finding: Finding, diff: FileDiff) -> str | None:
    """None when the evidence quotes an added line (or there is none to check); else why it is about old code."""
    quoted = [_plain(line) for line in finding.evidence.splitlines()]
    quoted = [line for line in quoted if len(line) >= MIN_EVIDENCE_CHARS]
    if not quoted:
        return None
    added = [_plain(text) for text in diff.line_texts("add").values()]
    if any(_matches(line, text) for line in quoted for text in added):
        return None
    unchanged = [_plain(text) for text in (*diff.line_texts("ctx").values(), *diff.line_texts("del").values())]
    if any(_matches(line, text) for line in quoted for text in unchanged):
        return "unchanged_code: its evidence quotes unchanged or deleted lines, not added ones"
    return "unchanged_code: its evidence is not in the changed lines of the diff"


def _plain(line: str) -> str:
    """A line as the model may have copied it from the packed diff: without number, marker and spacing."""
    text = line.strip()
    head, _, rest = text.partition(" ")
    if head.isdigit() and rest:
        text = rest.strip()
    if text[:1] in "+-" and text[1:2] in (" ", ""):
        text = text[1:]
    return " ".join(text.split())


def _matches(quoted: str, line: str) -> bool:
    if not line or len(line) < MIN_EVIDENCE_CHARS:
        return False
    return quoted == line or (len(quoted) >= 12 and quoted in line) or (len(line) >= 12 and line in quoted)


def _same(a: Finding, b: Finding) -> bool:
    """Same place (overlapping or within a few lines) and the same meaning (category and wording)."""
    if a.path != b.path:
        return False
    if b.line > a.end_line + NEAR_LINES or a.line > b.end_line + NEAR_LINES:
        return False
    if a.fingerprint == b.fingerprint:
        return True
    words_a, words_b = _words(a), _words(b)
    if not words_a or not words_b:
        return False
    similarity = len(words_a & words_b) / len(words_a | words_b)
    overlap = a.line <= b.end_line and b.line <= a.end_line
    same_category = normalise(a.category) == normalise(b.category)
    return similarity >= SAME_MEANING or (overlap and same_category and similarity >= SAME_MEANING / 2)


def _words(finding: Finding) -> set[str]:
    return {w for w in normalise(f"{finding.title} {finding.explanation}").split() if len(w) > 2 and w not in STOPWORDS}
