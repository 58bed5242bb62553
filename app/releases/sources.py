"""Where a team's indexed repository's history is read from: its directory for a local source, else a bare
mirror of its git remote with the whole history and every tag (the search index's own checkout is shallow).

The remote is checked again before every fetch, as for indexing: what a host resolves to may have changed since
the repository was added, and the fetch connects only to the address that was checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.db.models import Repository
from app.errors import IndexingFailed, ReleaseRangeInvalid
from app.releases.git import GitRepository
from app.search import git_credentials
from app.search.git_clone import mirror_history
from app.search.git_remote import GitRemote, check_remote, parse_git_url
from app.search.service import SearchService


async def history_of(repo: Repository, search: SearchService, *, timeout_s: float) -> GitRepository:
    if repo.source_kind != "git":
        path = Path(repo.source)
        if not path.is_dir():
            raise ReleaseRangeInvalid(f"the directory of repository {repo.name!r} is no longer there")
        return GitRepository(path, timeout_s=timeout_s)
    try:
        remote = await check_remote(parse_git_url(repo.source), search.git_allow, search.resolver)
    except ValueError as exc:
        raise IndexingFailed(str(exc)) from None
    if repo.source_credentials is not None:
        opened = git_credentials.unseal(
            remote.url, repo.source_credentials, search.secret_box(), team_id=repo.team_id, name=repo.name
        )
        remote = GitRemote(opened, remote.resolved)
    # ".history" cannot be a repository name (names never start with "."), so no checkout lives there.
    mirror = search.repos_dir() / str(repo.team_id) / ".history" / f"{repo.name}.git"
    settings = search.settings.search
    await asyncio.to_thread(
        mirror_history,
        remote,
        mirror,
        max_bytes=settings.git_max_clone_bytes,
        timeout_s=max(settings.git_clone_timeout_s, timeout_s),
    )
    return GitRepository(mirror, timeout_s=timeout_s)
