"""Extraction: the range to describe (two refs, a tag and HEAD, or "since the last release") and its commits,
each with its files and diff stats, the pull request it came from and its co-authors.

The log is read oldest first. A merge commit names its pull request ("Merge pull request #12 from ...", GitLab's
"See merge request group/project!12"); the commits it brought in inherit that number, so a pull request merged
with a merge commit is still one pull request in the notes. A path scope keeps the commits that touch a file
under it (merges touch none of their own and fall out, which is what a monorepo's notes want).
"""

from __future__ import annotations

import re

from app.errors import ReleaseRangeInvalid
from app.releases.changes import Commit, FileChange, Person, ReleaseRange
from app.releases.git import GitRepository, check_ref, check_tag_pattern

MAX_COMMITS = 20_000
RECORD, FIELD = "\x1e", "\x1f"
CO_AUTHORS = "%(trailers:key=Co-authored-by,valueonly,separator=%x1d)"
LOG_FORMAT = FIELD.join(["%H", "%P", "%aN", "%aE", "%aI", "%cN", "%cE", "%s", "%b", CO_AUTHORS])
SQUASH_PR = re.compile(r"\s\(#(\d{1,9})\)\s*$")
MERGE_PR = [
    re.compile(r"^Merge pull request #(\d{1,9}) from "),  # GitHub
    re.compile(r"^Merged in \S+ \(pull request #(\d{1,9})\)"),  # Bitbucket
]
GITLAB_MR = re.compile(r"^See merge request [\w./-]+!(\d{1,9})\s*$", re.MULTILINE)
CO_AUTHOR = re.compile(r"^\s*(?P<name>[^<]+?)\s*<(?P<email>[^>]*)>\s*$")


async def resolve_range(
    repo: GitRepository,
    *,
    from_ref: str | None,
    to_ref: str = "HEAD",
    tag_pattern: str | None = None,
    version: str | None = None,
    path: str | None = None,
) -> ReleaseRange:
    """The range as SHAs. Without `from_ref` it starts at the last release: the nearest tag matching
    `tag_pattern` (any tag without one) below `to_ref`, or the start of history when there is none."""
    await repo.check()
    pattern = check_tag_pattern(tag_pattern) if tag_pattern else None
    to_sha = await repo.commit_of(to_ref)
    since_last = from_ref is None
    from_sha = None
    if from_ref is None:
        from_ref = await last_release(repo, to_sha, pattern)
    if from_ref is not None:
        from_sha = await repo.commit_of(from_ref)
        if await repo.try_run("merge-base", "--is-ancestor", from_sha, to_sha) is None:
            raise ReleaseRangeInvalid(f"{from_ref} is not an ancestor of {to_ref}: the range would have no start")
    if version is None:
        version = await _tag_at(repo, to_ref, to_sha, pattern)
    return ReleaseRange(
        from_ref=from_ref,
        to_ref=to_ref,
        from_sha=from_sha,
        to_sha=to_sha,
        version=version,
        path=normalise_path(path),
        tag_pattern=pattern,
        since_last_release=since_last,
    )


async def last_release(repo: GitRepository, to_sha: str, pattern: str | None) -> str | None:
    """The nearest matching tag below `to_sha` (a tag on `to_sha` itself is the release being described)."""
    match = ["--match", pattern] if pattern else []
    for start in (to_sha, f"{to_sha}^"):
        found = await repo.try_run("describe", "--tags", "--abbrev=0", *match, start)
        if found is None:
            return None
        tag = found.strip()
        if await repo.commit_of(tag) != to_sha:
            return tag
    return None


async def _tag_at(repo: GitRepository, to_ref: str, to_sha: str, pattern: str | None) -> str | None:
    """The release's version: `to_ref` when it is a matching tag, else a matching tag on its commit."""
    tags = (await repo.run("tag", "--points-at", to_sha, *(["--list", pattern] if pattern else []))).split()
    if to_ref in tags:
        return to_ref
    return sorted(tags)[-1] if tags else None


def normalise_path(path: str | None) -> str | None:
    if path is None:
        return None
    cleaned = path.strip().strip("/")
    if not cleaned or cleaned == ".":
        return None
    if any(part in ("", "..") for part in cleaned.split("/")) or cleaned.startswith("-"):
        raise ReleaseRangeInvalid(f"{path!r} is not a path inside the repository")
    return cleaned


def in_scope(commit: Commit, path: str | None) -> bool:
    return path is None or any(f.path == path or f.path.startswith(path + "/") for f in commit.files)


async def read_commits(repo: GitRepository, release: ReleaseRange) -> tuple[list[Commit], int]:
    """The range's commits in scope, oldest first, and how many the range holds before scoping."""
    spec = f"{release.from_sha}..{release.to_sha}" if release.from_sha else release.to_sha
    count = int((await repo.run("rev-list", "--count", spec)).strip() or 0)
    if count > MAX_COMMITS:
        raise ReleaseRangeInvalid(f"the range holds {count} commits; at most {MAX_COMMITS} are described at once")
    if count == 0:
        return [], 0
    raw = await repo.run(
        "log", "--topo-order", "--reverse", "--no-renames", "--numstat", f"--format={RECORD}{LOG_FORMAT}{FIELD}", spec
    )
    commits = [parse_record(record) for record in raw.split(RECORD) if record.strip()]
    await _inherit_merged_pull_requests(repo, commits)
    return [c for c in commits if in_scope(c, release.path)], count


def parse_record(record: str) -> Commit:
    parts = record.split(FIELD)
    sha, parents, a_name, a_email, date, c_name, c_email, subject, body, trailers, stats = parts[:11]
    commit = Commit(
        sha=sha.strip(),
        parents=parents.split(),
        author=Person(a_name, a_email),
        committer=Person(c_name, c_email),
        date=date,
        subject=subject.strip(),
        body=body.strip(),
        files=_numstat(stats),
        co_authors=_co_authors(trailers),
    )
    squash = SQUASH_PR.search(commit.subject)
    if squash and not commit.is_merge:
        commit.pr = commit.squash_of = int(squash[1])
    elif commit.is_merge:
        commit.pr = merge_pull_request(commit)
    return commit


def merge_pull_request(commit: Commit) -> int | None:
    for pattern in MERGE_PR:
        found = pattern.match(commit.subject)
        if found:
            return int(found[1])
    found = GITLAB_MR.search(commit.body)
    return int(found[1]) if found else None


def _numstat(block: str) -> list[FileChange]:
    files = []
    for line in block.strip("\n").splitlines():
        added, _, rest = line.partition("\t")
        deleted, _, path = rest.partition("\t")
        if not path:
            continue
        files.append(FileChange(path, int(added) if added.isdigit() else -1, int(deleted) if deleted.isdigit() else -1))
    return files


def _co_authors(trailers: str) -> list[Person]:
    people = []
    for value in trailers.replace("\n", "\x1d").split("\x1d"):
        found = CO_AUTHOR.match(value)
        if found:
            people.append(Person(found["name"], found["email"]))
    return people


async def _inherit_merged_pull_requests(repo: GitRepository, commits: list[Commit]) -> None:
    """Commits a pull request's merge brought in carry its number (a squash number they already have wins)."""
    by_sha = {c.sha: c for c in commits}
    for merge in commits:
        if not merge.is_merge or merge.pr is None:
            continue
        brought = await repo.run("rev-list", f"{merge.parents[0]}..{merge.parents[1]}")
        for sha in brought.split():
            commit = by_sha.get(sha)
            if commit is not None and commit.pr is None:
                commit.pr = merge.pr


async def web_url(repo: GitRepository) -> str | None:
    """The forge page of `origin` (GitHub, GitLab, Bitbucket style), for links; None for other remotes."""
    remote = await repo.try_run("remote", "get-url", "origin")
    return forge_url(remote.strip()) if remote else None


def forge_url(remote: str) -> str | None:
    scp = re.match(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>[\w./-]+?)(?:\.git)?/?$", remote)
    url = re.match(r"^(?:https?|ssh)://(?:[^@/]+@)?(?P<host>[\w.-]+)(?::\d+)?/(?P<path>[\w./-]+?)(?:\.git)?/?$", remote)
    found = scp or url
    if found is None or "/" not in found["path"]:
        return None
    return f"https://{found['host']}/{found['path']}"


def check_refs(*refs: str | None) -> None:
    for ref in refs:
        if ref is not None:
            check_ref(ref)
