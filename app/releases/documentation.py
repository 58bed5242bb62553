"""Whether each change documented itself: a file under `docs/`, a Markdown/reStructuredText/AsciiDoc file, or a
docstring or doc comment it added or edited. Features that did none of these are flagged, so their authors
can be asked for documentation before the release goes out."""

from __future__ import annotations

import re

from app.releases.changes import Change
from app.releases.git import GitRepository

DOC_FILE = re.compile(r"(^|/)docs?/|\.(md|mdx|rst|adoc)$", re.IGNORECASE)
DOC_LINE = re.compile(r'^[+-](?![+-]{2}).*("""|\'\'\'|/\*\*|///|//!)')


def documents_itself(files: list[str]) -> bool:
    return any(DOC_FILE.search(path) for path in files)


async def changed_docstrings(repo: GitRepository, sha: str) -> bool:
    diff = await repo.run("show", "--format=", "--no-color", "--unified=0", "--no-ext-diff", sha)
    return any(DOC_LINE.search(line) for line in diff.splitlines())


async def mark_documentation(repo: GitRepository, changes: list[Change]) -> None:
    """Sets `documentation_changed`; reads diffs only for features that touched no documentation file."""
    for change in changes:
        change.documentation_changed = documents_itself(change.files)
        if not change.documentation_changed and change.type == "feat":
            for sha in change.commits:
                if await changed_docstrings(repo, sha):
                    change.documentation_changed = True
                    break
