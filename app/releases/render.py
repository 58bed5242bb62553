"""Deterministic Markdown for the two audiences. The same facts always give the same text, with no model.

- internal: every change, breaking ones first, then by type (scope in bold, sorted by scope), each with its
  reference, authors and issue keys; contributors (new ones named), features without documentation, and what
  was left out and why.
- external: user-facing changes only, grouped by outcome (breaking — action needed, new, fixed, faster,
  security, undone), in plain words: no types, scopes or commit jargon; thanks to contributors.

Every item ends with its reference in parentheses — `(#12)` or `(1a2b3c4d)` — exactly once; `linkify` then
turns references into links when the repository has a forge URL. The polish pass relies on that shape
(app.releases.polish).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from app.releases.changes import Change, ReleaseFacts

Audience = Literal["internal", "external"]
BREAKING = "⚠ Breaking changes"
EXTERNAL_BREAKING = "⚠ Breaking changes (action needed)"
INTERNAL_GROUPS: list[tuple[str, str]] = [
    ("feat", "Features"),
    ("fix", "Bug fixes"),
    ("perf", "Performance"),
    ("security", "Security"),
    ("revert", "Reverts"),
    ("deps", "Dependencies"),
    ("docs", "Documentation"),
    ("refactor", "Refactoring"),
    ("test", "Tests"),
    ("build", "Build"),
    ("ci", "Continuous integration"),
    ("style", "Style"),
    ("chore", "Chores"),
    ("other", "Other changes"),
]
EXTERNAL_GROUPS: list[tuple[str, str]] = [
    ("feat", "New"),
    ("fix", "Fixed"),
    ("perf", "Faster"),
    ("security", "Security"),
    ("revert", "Undone"),
]
REFERENCE = re.compile(r"\((#\d{1,9}|[0-9a-f]{8})\)")
REVERTED = re.compile(r'^Revert "(.+)"$')
CONVENTIONAL_PREFIX = re.compile(r"^[a-z]+(\([^)]*\))?!?:\s*")


@dataclass(frozen=True)
class Group:
    heading: str
    changes: list[Change]
    breaking: bool = False


def groups(facts: ReleaseFacts, audience: Audience) -> list[Group]:
    """The non-empty groups of one audience, in order; each change in exactly one."""
    breaking = [c for c in facts.changes if c.breaking]
    found = [Group(BREAKING if audience == "internal" else EXTERNAL_BREAKING, breaking, True)] if breaking else []
    rest = [c for c in facts.changes if not c.breaking]
    for kind, heading in INTERNAL_GROUPS if audience == "internal" else EXTERNAL_GROUPS:
        members = [c for c in rest if c.type == kind]
        if audience == "internal":
            members.sort(key=lambda c: (c.scope or "").lower())  # stable: oldest first within a scope
        if members:
            found.append(Group(heading, members))
    return found


def title(facts: ReleaseFacts) -> str:
    return f"{facts.repository} {facts.range.version or 'Unreleased'}"


def render(facts: ReleaseFacts, audience: Audience) -> str:
    """The notes with plain references; see `linkify`."""
    return render_internal(facts) if audience == "internal" else render_external(facts)


def render_internal(facts: ReleaseFacts) -> str:
    lines = [f"# {title(facts)} — internal notes", "", _range_line(facts), ""]
    found = groups(facts, "internal")
    if not found:
        lines += ["No changes in this range.", ""]
    for group in found:
        lines += [f"## {group.heading}", ""]
        lines += [_internal_item(c, breaking=group.breaking) for c in group.changes]
        lines.append("")
    people = facts.contributors
    if people.all:
        lines += ["## Contributors", "", ", ".join(p.name for p in people.all), ""]
        if people.new:
            lines += [f"First-time contributors: {', '.join(p.name for p in people.new)}.", ""]
    undocumented = facts.undocumented
    if undocumented:
        lines += ["## Features without documentation", ""]
        lines += [f"- {c.description} — {_names(c)} [{c.ref}]" for c in undocumented]
        lines.append("")
    if facts.dropped:
        lines += [f"<details><summary>Left out ({len(facts.dropped)})</summary>", ""]
        lines += [f"- `{d.sha[:8]}` {_inline(d.subject)} — {_inline(d.reason)}" for d in facts.dropped]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_external(facts: ReleaseFacts) -> str:
    lines = [f"# {title(facts)}", ""]
    if facts.date:
        lines += [f"Released {facts.date[:10]}." if facts.range.version else f"Changes up to {facts.date[:10]}.", ""]
    found = groups(facts, "external")
    if not found:
        lines += ["No changes in this range." if not facts.changes else "No user-facing changes in this release.", ""]
    for group in found:
        lines += [f"## {group.heading}", ""]
        for change in group.changes:
            text = change.breaking_note if group.breaking and change.breaking_note else _plain(change)
            lines.append(f"- {_sentence(text)} ({change.ref})")
        lines.append("")
    people = facts.contributors
    if people.all and found:
        count = "the one person" if len(people.all) == 1 else f"the {len(people.all)} people"
        thanks = f"Thanks to {count} who contributed to this release"
        if people.new:
            thanks += f", and welcome to {_listing([p.name for p in people.new])}, contributing for the first time"
        lines += [thanks + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def linkify(text: str, facts: ReleaseFacts) -> str:
    """References as links to the forge (pull request or commit page); unchanged without a forge URL."""
    if not facts.web_url:
        return text
    commits = {c.ref: c.commits[0] for c in facts.changes}
    base = facts.web_url.rstrip("/")

    def link(found: re.Match[str]) -> str:
        ref = found[1]
        if ref.startswith("#"):
            return f"([{ref}]({base}/pull/{ref[1:]}))"
        sha = commits.get(ref, ref)
        return f"([{ref}]({base}/commit/{sha}))"

    return REFERENCE.sub(link, text)


def _range_line(facts: ReleaseFacts) -> str:
    release = facts.range
    start = release.from_ref or "the first commit"
    scope = f", path `{release.path}`" if release.path else ""
    pattern = f", tags `{release.tag_pattern}`" if release.tag_pattern else ""
    return (
        f"Range `{start}..{release.to_ref}` at `{release.to_sha[:8]}`{scope}{pattern}: {facts.commits_seen} commits, "
        f"{len(facts.changes)} changes, {len(facts.dropped)} left out."
    )


def _internal_item(change: Change, *, breaking: bool) -> str:
    kind = f"{change.type}({change.scope})" if change.scope else change.type
    lead = f"**{kind}:** " if breaking else (f"**{change.scope}:** " if change.scope else "")
    text = _inline(change.description)
    if breaking and change.breaking_note and change.breaking_note != change.description:
        text += f" — {_inline(change.breaking_note)}"
    extras = [_names(change)]
    if change.issue_keys:
        extras.append(", ".join(change.issue_keys))
    if change.classified_by == "model":
        extras.append("type suggested by a model")
    if change.pr is not None and not change.ref.startswith("#"):
        extras.append(f"PR #{change.pr}")
    return f"- {lead}{text} ({change.ref}) — {' · '.join(extras)}"


def _plain(change: Change) -> str:
    """The description without commit jargon: `Revert "feat: x"` reads "Reverted: x"."""
    reverted = REVERTED.match(change.description)
    if reverted:
        inner = CONVENTIONAL_PREFIX.sub("", reverted[1])
        return f"Reverted: {inner}"
    return change.description


def _names(change: Change) -> str:
    return ", ".join(p.name for p in change.authors)


def _inline(text: str) -> str:
    """One line, with nothing that reads as one of our references (a description may quote "(#3)")."""
    return REFERENCE.sub(lambda m: m[1], " ".join(text.split()))


def _sentence(text: str) -> str:
    text = _inline(text)
    return text[:1].upper() + text[1:] if text else text


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
