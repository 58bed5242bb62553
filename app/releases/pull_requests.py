"""What an SCM connection adds to the commits: each named pull request's labels (for classification and the
`breaking` label), its author's login, and the issue keys its title and body mention. A pull request that
cannot be read leaves its commits as git describes them."""

from __future__ import annotations

import logging
from typing import Any

from app.errors import IntegrationError
from app.releases.changes import Commit
from app.releases.classify import ISSUE_KEY, LINKED_ISSUE, NOT_ISSUE_KEYS

log = logging.getLogger("adjutant.releases")
MAX_PULL_REQUESTS = 200


def enricher(client: Any, repo: str):
    """An `Enrich` function over `client` (GitHub or GitLab) for the forge repository `repo`."""

    async def enrich(commits: list[Commit]) -> None:
        numbers = list(dict.fromkeys(c.pr for c in commits if c.pr is not None))[:MAX_PULL_REQUESTS]
        found: dict[int, Any] = {}
        for number in numbers:
            try:
                found[number] = await client.get_pull_request(repo, number, max_files=1)
            except IntegrationError as exc:
                log.info("pull request %s of %s could not be read: %s", number, repo, exc.code)
        for commit in commits:
            pull = found.get(commit.pr) if commit.pr is not None else None
            if pull is None:
                continue
            commit.labels = list(pull.labels)
            if commit.squash_of == pull.number:  # a squash commit is the pull request's author's work
                commit.author_login = pull.author
            text = f"{pull.title}\n{pull.body or ''}"
            keys = [k for k in ISSUE_KEY.findall(text) if not NOT_ISSUE_KEYS.match(k)] + LINKED_ISSUE.findall(text)
            mentioned = " ".join(k for k in keys if k not in commit.body)
            if mentioned:
                commit.body = f"{commit.body}\n\nRefs {mentioned}".strip()

    return enrich
