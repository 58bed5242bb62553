"""The facts release notes are written from: commits as extracted, changes as classified, and the release.

Every later stage reads and extends these; nothing downstream goes back to git. `ReleaseFacts.to_json` is what
the database keeps and what `--format json` prints, so a note can always be traced to the commits behind it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ChangeType = Literal[
    "feat", "fix", "perf", "security", "deps", "docs", "refactor", "test", "build", "ci", "style", "chore", "revert",
    "other",
]  # fmt: skip
CHANGE_TYPES: tuple[str, ...] = ChangeType.__args__  # type: ignore[attr-defined]
# How a change got its type: the order classification tries them in.
ClassifiedBy = Literal["conventional", "label", "path", "keyword", "model", "none"]
# Changes a user of the software notices; the rest is maintenance, shown only in the internal notes.
USER_FACING: frozenset[str] = frozenset({"feat", "fix", "perf", "security", "revert"})


@dataclass(frozen=True)
class FileChange:
    path: str
    additions: int  # -1 for binary files (git shows no line counts)
    deletions: int


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    @property
    def key(self) -> str:
        return self.email.strip().lower() or self.name.strip().lower()


@dataclass
class Commit:
    """One commit of the range as `git log` shows it, plus what extraction learnt about it."""

    sha: str
    parents: list[str]
    author: Person
    committer: Person
    date: str  # author date, ISO 8601
    subject: str
    body: str
    files: list[FileChange] = field(default_factory=list)
    co_authors: list[Person] = field(default_factory=list)
    pr: int | None = None  # the pull/merge request it came from, when its message or its merge says so
    squash_of: int | None = None  # the pull request this commit squashes, from a "(#N)" subject suffix
    labels: list[str] = field(default_factory=list)  # the pull request's, when an SCM connection gave them
    author_login: str | None = None

    @property
    def short(self) -> str:
        return self.sha[:8]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def message(self) -> str:
        return f"{self.subject}\n\n{self.body}".strip()

    @property
    def additions(self) -> int:
        return sum(max(f.additions, 0) for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(max(f.deletions, 0) for f in self.files)


@dataclass
class Dropped:
    sha: str
    subject: str
    reason: str  # e.g. "merge commit", "bot author dependabot[bot]", "reverted by 1a2b3c4d"


@dataclass
class Change:
    """One item of the notes: a commit (or a squashed pull request) with its type, scope and flags."""

    ref: str  # how the notes cite it: "#12" for a pull request, the short SHA otherwise
    commits: list[str]  # full SHAs behind it (several when a pull request's commits were merged)
    type: str
    scope: str | None
    description: str
    classified_by: str
    authors: list[Person]
    pr: int | None = None
    labels: list[str] = field(default_factory=list)
    breaking: bool = False
    breaking_note: str | None = None  # the footer's text, or the description for a bare "!"
    issue_keys: list[str] = field(default_factory=list)  # Jira/Linear keys and "#N" issues it names
    files: list[str] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0
    documentation_changed: bool = True
    url: str | None = None

    @property
    def user_facing(self) -> bool:
        return self.breaking or self.type in USER_FACING

    @property
    def undocumented_feature(self) -> bool:
        return self.type == "feat" and not self.documentation_changed


@dataclass
class Contributors:
    all: list[Person]  # authors and co-authors of the kept changes, in order of first change
    new: list[Person]  # those whose first change in the repository's history is in this range


@dataclass
class ReleaseRange:
    from_ref: str | None  # None: from the start of history
    to_ref: str
    from_sha: str | None
    to_sha: str
    version: str | None
    path: str | None = None
    tag_pattern: str | None = None
    since_last_release: bool = False  # the start was found as the last matching tag


@dataclass
class ReleaseFacts:
    range: ReleaseRange
    changes: list[Change]
    dropped: list[Dropped]
    contributors: Contributors
    commits_seen: int
    repository: str  # a name for headings and links
    web_url: str | None = None  # where commit and pull request links point, when the remote is a forge
    date: str | None = None  # of the last commit in the range

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def undocumented(self) -> list[Change]:
        return [c for c in self.changes if c.undocumented_feature]

    def to_json(self) -> dict[str, Any]:
        return {
            "range": asdict(self.range),
            "repository": self.repository,
            "web_url": self.web_url,
            "date": self.date,
            "commits_seen": self.commits_seen,
            "changes": [_change_json(c) for c in self.changes],
            "dropped": [asdict(d) for d in self.dropped],
            "contributors": [asdict(p) for p in self.contributors.all],
            "new_contributors": [asdict(p) for p in self.contributors.new],
            "breaking": [c.ref for c in self.breaking],
            "undocumented_features": [c.ref for c in self.undocumented],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseFacts:
        return cls(
            range=ReleaseRange(**data["range"]),
            changes=[_change_of(c) for c in data["changes"]],
            dropped=[Dropped(**d) for d in data["dropped"]],
            contributors=Contributors(
                all=[Person(**p) for p in data["contributors"]], new=[Person(**p) for p in data["new_contributors"]]
            ),
            commits_seen=data["commits_seen"],
            repository=data["repository"],
            web_url=data.get("web_url"),
            date=data.get("date"),
        )


def _change_json(change: Change) -> dict[str, Any]:
    data = asdict(change)
    data["user_facing"] = change.user_facing
    data["undocumented_feature"] = change.undocumented_feature
    return data


def _change_of(data: dict[str, Any]) -> Change:
    data = {k: v for k, v in data.items() if k not in ("user_facing", "undocumented_feature")}
    data["authors"] = [Person(**p) for p in data["authors"]]
    return Change(**data)
