"""Contributors of a release: the authors and co-authors of its kept changes, and which of them are new — whose
first change in the repository is in this range, judged against the whole history before the range's start
(every ancestor of it, whatever path it touched). A person is the same person by e-mail or by name (as
`.mailmap` resolves them), so a second address does not make someone new again.
"""

from __future__ import annotations

from app.releases.changes import Change, Contributors, Person, ReleaseRange
from app.releases.extract import CO_AUTHOR
from app.releases.git import GitRepository

FIELD, SEP = "\x1f", "\x1d"


class KnownPeople:
    def __init__(self) -> None:
        self.emails: set[str] = set()
        self.names: set[str] = set()

    def add(self, person: Person) -> None:
        if person.email.strip():
            self.emails.add(person.email.strip().lower())
        if person.name.strip():
            self.names.add(person.name.strip().lower())

    def knows(self, person: Person) -> bool:
        return person.email.strip().lower() in self.emails or person.name.strip().lower() in self.names


async def history_before(repo: GitRepository, release: ReleaseRange) -> KnownPeople:
    known = KnownPeople()
    if release.from_sha is None:
        return known
    raw = await repo.run(
        "log", f"--format=%aN{FIELD}%aE{FIELD}%(trailers:key=Co-authored-by,valueonly,separator=%x1d)", release.from_sha
    )
    for line in raw.splitlines():
        name, _, rest = line.partition(FIELD)
        email, _, trailers = rest.partition(FIELD)
        known.add(Person(name, email))
        for value in trailers.split(SEP):
            found = CO_AUTHOR.match(value)
            if found:
                known.add(Person(found["name"], found["email"]))
    return known


def contributors_of(changes: list[Change], known: KnownPeople) -> Contributors:
    """Each person once, in the order of their first change; new ones are those history has not seen."""
    seen = KnownPeople()
    everyone: list[Person] = []
    for change in changes:
        for person in change.authors:
            if not seen.knows(person):
                seen.add(person)
                everyone.append(person)
    return Contributors(all=everyone, new=[p for p in everyone if not known.knows(p)])


async def contributors(repo: GitRepository, release: ReleaseRange, changes: list[Change]) -> Contributors:
    return contributors_of(changes, await history_before(repo, release))
