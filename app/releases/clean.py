"""Cleaning: what the notes leave out, each with its reason (kept in the facts, so nothing vanishes unexplained).

- merge commits (their pull request number already went to the commits they brought in);
- commits by bots (`*[bot]`, dependabot, renovate, ... and the repository's own list);
- a commit and its revert when both are in the range (a revert of a revert brings the first back); a revert of
  something released earlier stays, as a change of its own;
- squash duplicates: a pull request squashed into one commit whose branch commits also reached the range (a
  merged-then-squashed branch, a cherry-pick) is described once, by its squash commit.
"""

from __future__ import annotations

import re

from app.releases.changes import Commit, Dropped
from app.releases.rules import ReleaseRules

REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})", re.IGNORECASE)


def reverted_sha(commit: Commit) -> str | None:
    found = REVERTS.search(commit.body)
    return found[1] if found else None


def clean(commits: list[Commit], rules: ReleaseRules) -> tuple[list[Commit], list[Dropped]]:
    """The commits the notes describe (oldest first) and the ones they leave out, with why."""
    dropped: dict[str, str] = {}
    for commit in commits:
        if commit.is_merge:
            dropped[commit.sha] = "merge commit"
        elif rules.is_bot(commit.author.name, commit.author.email):
            dropped[commit.sha] = f"bot author {commit.author.name}"
    _cancel_reverts([c for c in commits if c.sha not in dropped], commits, dropped)
    _drop_squash_duplicates([c for c in commits if c.sha not in dropped], dropped)
    kept = [c for c in commits if c.sha not in dropped]
    return kept, [Dropped(c.sha, c.subject, dropped[c.sha]) for c in commits if c.sha in dropped]


def _cancel_reverts(commits: list[Commit], all_commits: list[Commit], dropped: dict[str, str]) -> None:
    by_sha = {c.sha: c for c in all_commits}
    # A revert that cancelled its target, by target: reverting that revert restores the target.
    cancelled: dict[str, str] = {}
    for commit in commits:
        target = _in_range(reverted_sha(commit), by_sha)
        if target is None:
            continue  # a revert of an earlier release's change, or of a merge: a change of its own
        if target not in dropped:
            dropped[target] = f"reverted by {commit.short}"
            dropped[commit.sha] = f"reverts {target[:8]} in the same range"
            cancelled[commit.sha] = target
        elif target in cancelled:  # reverting a revert: the original is back
            restored = cancelled.pop(target)
            dropped.pop(restored, None)
            dropped[commit.sha] = f"reverts the revert {target[:8]}, restoring {restored[:8]}"
        elif not by_sha[target].is_merge:  # left out for another reason (a bot's commit): so is undoing it
            dropped[commit.sha] = f"reverts {target[:8]}, which the notes leave out"


def _in_range(sha: str | None, by_sha: dict[str, Commit]) -> str | None:
    if sha is None:
        return None
    if sha in by_sha:
        return sha
    matches = [full for full in by_sha if full.startswith(sha)]
    return matches[0] if len(matches) == 1 else None


def _drop_squash_duplicates(commits: list[Commit], dropped: dict[str, str]) -> None:
    squashed: dict[int, Commit] = {}
    for commit in commits:
        if commit.squash_of is not None:
            if commit.squash_of in squashed:
                dropped[commit.sha] = f"another squash of #{commit.squash_of} ({squashed[commit.squash_of].short})"
            else:
                squashed[commit.squash_of] = commit
    for commit in commits:
        keeper = squashed.get(commit.pr) if commit.pr is not None else None
        if keeper is not None and commit.sha != keeper.sha and commit.sha not in dropped:
            dropped[commit.sha] = f"squashed into {keeper.short} of #{commit.pr}"
