"""Classification: each kept commit becomes a `Change` with a type and scope, found by the first rule that
applies — its conventional-commit header, its pull request's labels, the repository's path rules (every file
agreeing), the first word of a free-form subject — and, only for what remains, a model, whose answers are
marked `classified_by="model"`. Without a model what remains is `other`.

A change is cited by its pull request ("#12") when it is the only kept commit of that pull request, else by its
short SHA, so every reference in the notes is unique.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.errors import AdjutantError
from app.releases.breaking import breaking_note
from app.releases.changes import CHANGE_TYPES, Change, Commit, Person
from app.releases.rules import ReleaseRules

log = logging.getLogger("adjutant.releases")
HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\n]{1,60})\))?(?P<bang>!)?:[ \t]+(?P<desc>\S.*)$")
TYPE_ALIASES = {
    "feat": "feat", "feature": "feat", "fix": "fix", "bugfix": "fix", "hotfix": "fix", "perf": "perf",
    "security": "security", "sec": "security", "deps": "deps", "dep": "deps", "docs": "docs", "doc": "docs",
    "refactor": "refactor", "test": "test", "tests": "test", "build": "build", "ci": "ci", "style": "style",
    "chore": "chore", "revert": "revert",
}  # fmt: skip
# The first word of a free-form subject, by the kind of change it usually starts.
KEYWORD_WORDS = {
    "fix": "fix fixes fixed fixing bugfix hotfix correct corrects repair",
    "feat": "add adds added introduce introduces implement implements support supports allow allows enable enables new",
    "docs": "doc docs document documents documentation readme",
    "refactor": "refactor refactors tidy cleanup simplify simplifies rename renames restructure extract",
    "test": "test tests testing",
    "deps": "bump bumps upgrade upgrades",
    "perf": "optimise optimize optimises optimizes speed",
    "revert": "revert reverts",
    "chore": "release chore wip",
    "style": "format lint style",
}
KEYWORDS = {word: kind for kind, words in KEYWORD_WORDS.items() for word in words.split()}
SQUASH_SUFFIX = re.compile(r"\s\(#\d{1,9}\)\s*$")
ISSUE_KEY = re.compile(r"\b([A-Z][A-Z0-9]{1,9}-\d{1,7})\b")
NOT_ISSUE_KEYS = re.compile(r"^(UTF|ISO|SHA|AES|RFC|HTTP|TLS|CVE|GPT|ES|PEP|IPV)-")
LINKED_ISSUE = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?|refs?)\s+(#\d{1,9})\b", re.IGNORECASE)
MAX_MODEL_ITEMS = 200

Ask = Callable[[str], Awaitable[str]]


@dataclass
class Header:
    type: str | None
    scope: str | None
    bang: bool
    description: str


def parse_header(subject: str) -> Header:
    """The conventional-commit header, if the subject is one of a known type; else the subject as it is."""
    subject = SQUASH_SUFFIX.sub("", subject).strip()
    found = HEADER.match(subject)
    if found and found["type"].lower() in TYPE_ALIASES:
        return Header(TYPE_ALIASES[found["type"].lower()], found["scope"], bool(found["bang"]), found["desc"].strip())
    return Header(None, None, False, subject)


def keyword_type(description: str) -> str | None:
    if description.startswith('Revert "'):
        return "revert"
    first = re.split(r"[\s:,(]", description.strip().lstrip("[").lower(), maxsplit=1)[0].rstrip(":]")
    return KEYWORDS.get(first)


def path_type(commit: Commit, rules: ReleaseRules) -> str | None:
    kinds = {rules.type_of_path(f.path) for f in commit.files}
    return kinds.pop() if len(kinds) == 1 and None not in kinds and commit.files else None


def label_type(labels: list[str], rules: ReleaseRules) -> str | None:
    for label in labels:
        kind = rules.type_of_label(label)
        if kind is not None:
            return kind
    return None


def issue_keys(commit: Commit) -> list[str]:
    text = commit.message
    keys = [k for k in ISSUE_KEY.findall(text) if not NOT_ISSUE_KEYS.match(k)]
    keys += LINKED_ISSUE.findall(text)
    return list(dict.fromkeys(keys))


async def classify(commits: list[Commit], rules: ReleaseRules, *, ask: Ask | None = None) -> list[Change]:
    """One change per kept commit, oldest first; `ask` (a model) only for those no rule classified."""
    per_pr = Counter(c.pr for c in commits if c.pr is not None)
    changes = []
    for commit in commits:
        header = parse_header(commit.subject)
        kind, by = header.type, "conventional"
        if kind is None:
            kind, by = label_type(commit.labels, rules), "label"
        if kind is None:
            kind, by = path_type(commit, rules), "path"
        if kind is None and rules.keywords:
            kind, by = keyword_type(header.description), "keyword"
        if kind is None:
            kind, by = "other", "none"
        note = breaking_note(bang=header.bang, body=commit.body, labels=commit.labels, description=header.description)
        changes.append(
            Change(
                ref=f"#{commit.pr}" if commit.pr is not None and per_pr[commit.pr] == 1 else commit.short,
                commits=[commit.sha],
                type=kind,
                scope=header.scope,
                description=header.description,
                classified_by=by,
                authors=_people(commit),
                pr=commit.pr,
                labels=list(commit.labels),
                breaking=note is not None,
                breaking_note=note,
                issue_keys=issue_keys(commit),
                files=[f.path for f in commit.files],
                additions=commit.additions,
                deletions=commit.deletions,
            )
        )
    if ask is not None:
        await classify_by_model([c for c in changes if c.classified_by == "none"], ask)
    return changes


def _people(commit: Commit) -> list[Person]:
    people = {commit.author.key: commit.author}
    for person in commit.co_authors:
        people.setdefault(person.key, person)
    return list(people.values())


async def classify_by_model(changes: list[Change], ask: Ask) -> int:
    """Ask the model for the types of changes no rule classified; returns how many it classified. A failed or
    malformed answer leaves them `other` (it never blocks the notes)."""
    batch = changes[:MAX_MODEL_ITEMS]
    if not batch:
        return 0
    allowed = [t for t in CHANGE_TYPES if t != "other"]
    lines = "\n".join(f"{i}. {c.description[:200]}" for i, c in enumerate(batch, start=1))
    prompt = (
        "Classify each commit of a software release by its kind of change. Kinds: "
        f"{', '.join(allowed)}, or other when none fits.\n"
        'Answer only a JSON object mapping each number to a kind, e.g. {"1": "fix", "2": "feat"}.\n\n'
        f"{lines}"
    )
    try:
        answer = await ask(prompt)
        found = json.loads(answer[answer.index("{") : answer.rindex("}") + 1])
    except (AdjutantError, TimeoutError, ValueError) as exc:  # a failed or malformed answer: left unclassified
        log.info("the model did not classify %d changes: %s", len(batch), exc.__class__.__name__)
        return 0
    classified = 0
    for index, change in enumerate(batch, start=1):
        kind = found.get(str(index)) if isinstance(found, dict) else None
        if isinstance(kind, str) and kind in allowed:
            change.type, change.classified_by = kind, "model"
            classified += 1
    return classified
