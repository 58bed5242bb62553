"""The optional polish pass: a model rewrites the external notes for readability, and the rewrite is kept only
if it still says exactly what the facts say.

A rewrite is accepted only when
- every group heading of the deterministic notes is still there, once, and no other heading holds items;
- every included change is referenced exactly once, as `(ref)`, under its own group (so group counts match);
- no reference is invented: no `#N` or commit-like hex word that the deterministic text does not have;
- the breaking-changes group keeps its heading and every breaking change.
Otherwise the deterministic text stands and the reason is recorded with the notes.

Earlier approved notes of the repository (found by embeddings, app.releases.voice) are shown to the model as
examples of voice and terminology, never as facts.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.errors import AdjutantError
from app.releases.changes import ReleaseFacts
from app.releases.render import REFERENCE, Group, groups

log = logging.getLogger("adjutant.releases")
HEADING = re.compile(r"^##\s+(.+?)\s*$")
LOOSE_REFERENCE = re.compile(r"#\d{1,9}\b|\b[0-9a-f]{8,40}\b")
MAX_EXAMPLE_CHARS = 3000

Ask = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class Polished:
    text: str  # the accepted rewrite, or the deterministic text
    accepted: bool
    reason: str | None  # why the rewrite was not kept (None when accepted)


def validate(rewrite: str, deterministic: str, expected: list[Group]) -> str | None:
    """Why `rewrite` does not faithfully restate `deterministic`; None when it does."""
    wanted_heading = {g.heading: g for g in expected}
    placed: dict[str, list[str]] = {}
    headings: Counter[str] = Counter()
    current: str | None = None
    for line in rewrite.splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading[1]
            headings[current] += 1
            continue
        for ref in REFERENCE.findall(line):
            placed.setdefault(current or "", []).append(ref)
    problems: list[str] = []
    for heading in wanted_heading:
        if headings[heading] != 1:
            problems.append(f"the heading {heading!r} appears {headings[heading]} times (expected once)")
    found = Counter(ref for refs in placed.values() for ref in refs)
    expected_refs = {c.ref: g.heading for g in expected for c in g.changes}
    for ref, heading in expected_refs.items():
        if found[ref] == 0:
            problems.append(f"{ref} is missing")
        elif found[ref] > 1:
            problems.append(f"{ref} is referenced {found[ref]} times")
        elif ref not in placed.get(heading, []):
            problems.append(f"{ref} moved out of {heading!r}")
    for ref in found:
        if ref not in expected_refs:
            problems.append(f"{ref} is not a change of this release")
    for group in expected:
        count = len(placed.get(group.heading, []))
        if count != len(group.changes):
            problems.append(f"{group.heading!r} holds {count} items instead of {len(group.changes)}")
    known = set(LOOSE_REFERENCE.findall(deterministic))
    invented = sorted(set(LOOSE_REFERENCE.findall(rewrite)) - known)
    if invented:
        problems.append(f"invented references: {', '.join(invented[:10])}")
    return "; ".join(dict.fromkeys(problems)) or None


def prompt_for(deterministic: str, examples: list[str]) -> str:
    voice = ""
    if examples:
        shown = "\n\n---\n\n".join(example[:MAX_EXAMPLE_CHARS] for example in examples)
        voice = (
            "Earlier release notes of this project, approved by its maintainers. Match their voice and terminology; "
            f"they are not facts about this release:\n\n{shown}\n\n===\n\n"
        )
    return (
        f"{voice}Rewrite these release notes so that the people who use the software enjoy reading them: plain "
        "language, clear outcomes, no commit jargon. Rules, all of which are checked:\n"
        "- keep every '## ' heading exactly as written, once each, and add no other '## ' headings;\n"
        "- keep every item under its heading, and end each item with its reference in parentheses exactly as "
        "given, e.g. (#12) or (1a2b3c4d) — each reference exactly once;\n"
        "- add no items, references, issue numbers or commit hashes, and drop none;\n"
        "- keep the breaking-changes section and what each breaking item asks of the reader.\n"
        "Answer with the Markdown only.\n\n"
        f"{deterministic}"
    )


async def polish(facts: ReleaseFacts, deterministic: str, ask: Ask, *, examples: Sequence[str] = ()) -> Polished:
    """The model's rewrite of the external notes if it passes `validate`, else the deterministic text."""
    expected = groups(facts, "external")
    if not expected:
        return Polished(deterministic, False, "nothing user-facing to rewrite")
    try:
        answer = await ask(prompt_for(deterministic, list(examples)))
    except (AdjutantError, TimeoutError) as exc:  # the deterministic text is always there to fall back on
        log.info("release notes polish failed: %s", exc.__class__.__name__)
        return Polished(deterministic, False, f"the model failed: {exc.__class__.__name__}: {str(exc)[:200]}")
    rewrite = _unfenced(answer).strip() + "\n"
    reason = validate(rewrite, deterministic, expected)
    if reason is not None:
        return Polished(deterministic, False, f"rewrite rejected: {reason}")
    return Polished(rewrite, True, None)


def _unfenced(text: str) -> str:
    """Models often wrap Markdown in a ``` fence although asked not to."""
    stripped = text.strip()
    fenced = re.match(r"^```[a-zA-Z]*\n(?P<body>.*)\n```$", stripped, re.DOTALL)
    return fenced["body"] if fenced else stripped
