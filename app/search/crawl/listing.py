"""What a crawl covers (an organisation, group or workspace, a topic, or named repositories) and listing it
through the connection's client, so every call shares the connection's rate limits across workers.

GitHub lists by organisation or topic (within an organisation when one is given); GitLab by group (with its
subgroups) or topic (within a group when one is given); Bitbucket by workspace (it has no topics), asking it to
leave out what the language and push filters would; any of them by names.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator

from app.errors import InvalidRequest
from app.integrations.repository_lists import ScmRepository, bitbucket_query
from app.search.crawl.filters import CrawlFilters

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*$"
# Cloud services answer their API on another host than the one they clone from.
CLONE_HOSTS = {"api.github.com": "github.com", "api.bitbucket.org": "bitbucket.org"}
CRAWLABLE = ("github", "gitlab", "bitbucket")


class CrawlScope(BaseModel):
    """Exactly one of org, group, workspace, topic or names; a topic may be narrowed by org (GitHub) or group
    (GitLab)."""

    org: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    group: str | None = Field(default=None, min_length=1, max_length=500, pattern=NAME_PATTERN)
    workspace: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    topic: str | None = Field(default=None, min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9-]*$")
    names: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Full names: owner/name (GitHub), group/subgroup/project (GitLab), workspace/slug (Bitbucket).",
    )

    @model_validator(mode="after")
    def _one(self) -> CrawlScope:
        owners = [k for k in ("org", "group", "workspace") if getattr(self, k) is not None]
        if self.names is not None:
            if owners or self.topic is not None:
                raise ValueError("names cannot be combined with org, group, workspace or topic")
            for name in self.names:
                if len(name) > 500 or "/" not in name or not _valid_name(name):
                    raise ValueError("each name is a full repository name such as owner/name")
            return self
        if len(owners) > 1:
            raise ValueError("give one of org, group or workspace")
        if not owners and self.topic is None:
            raise ValueError("give one of org, group, workspace, topic or names")
        if self.topic is not None and self.workspace is not None:
            raise ValueError("Bitbucket has no topics to crawl by")
        return self

    def check_kind(self, kind: str) -> None:
        """InvalidRequest when the connection's service cannot list this scope."""
        if kind not in CRAWLABLE:
            raise InvalidRequest(f"a {kind} connection cannot be crawled (github, gitlab and bitbucket can)")
        if self.org is not None and kind != "github":
            raise InvalidRequest("scope.org is for github connections (gitlab: group, bitbucket: workspace)")
        if self.group is not None and kind != "gitlab":
            raise InvalidRequest("scope.group is for gitlab connections (github: org, bitbucket: workspace)")
        if self.workspace is not None and kind != "bitbucket":
            raise InvalidRequest("scope.workspace is for bitbucket connections (github: org, gitlab: group)")
        if kind == "bitbucket":
            self._check_bitbucket()

    def _check_bitbucket(self) -> None:
        if self.topic is not None:
            raise InvalidRequest("Bitbucket has no topics: crawl a workspace or name the repositories")
        if self.workspace is not None and "/" in self.workspace:
            raise InvalidRequest("scope.workspace is one Bitbucket workspace slug, without /")
        if any(name.count("/") != 1 for name in self.names or ()):
            raise InvalidRequest("each Bitbucket repository is named workspace/slug")


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None and all(part not in (".", "..") for part in name.split("/"))


async def listed(
    client: Any, kind: str, scope: CrawlScope, filters: CrawlFilters, *, limit: int
) -> AsyncIterator[ScmRepository]:
    """The scope's repositories, at most `limit`, each as the service describes it (with its main language
    when the filters need one, which costs GitLab a call per project)."""
    languages = filters.needs_languages
    if scope.names is not None:
        for name in scope.names[:limit]:
            yield await (
                client.get_repository(name, languages=languages) if kind == "gitlab" else client.get_repository(name)
            )
        return
    if kind == "github":
        async for repo in client.list_repositories(org=scope.org, topic=scope.topic, limit=limit):
            yield repo
    elif kind == "bitbucket":
        query = bitbucket_query(languages=filters.languages, pushed_since=filters.pushed_since)
        async for repo in client.list_repositories(workspace=scope.workspace, query=query, limit=limit):
            yield repo
    else:
        async for repo in client.list_repositories(
            group=scope.group, topic=scope.topic, languages=languages, limit=limit
        ):
            yield repo


async def head_commit(client: Any, repo: ScmRepository) -> str:
    """The commit the default branch points at now (what an index of it would cover)."""
    assert repo.default_branch is not None
    return str(await client.branch_head(repo.full_name, repo.default_branch))


def clone_refusal(base_url: str, clone_url: str) -> str | None:
    """Why a clone URL the service gave is refused, or None: it must be on the connection's own host (the
    API host's clone host for the cloud services), and https unless the connection itself is http."""
    base = urlsplit(base_url)
    try:
        clone = urlsplit(clone_url)
        clone_host = (clone.hostname or "").lower()
    except ValueError:
        return "the clone URL is not a URL"
    base_host = (base.hostname or "").lower()
    if clone_host != CLONE_HOSTS.get(base_host, base_host):
        return f"the clone URL is on another host ({clone_host or 'none'}) than the connection"
    if clone.scheme != "https" and not (clone.scheme == "http" and base.scheme == "http"):
        return "the clone URL is not https"
    if clone.username or clone.password:
        return "the clone URL carries credentials"
    return None


def local_name(full_name: str) -> str:
    """The name of the indexed repository a crawled one becomes: its full name, `/` written `__` (repository
    names have no `/`)."""
    return full_name.replace("/", "__")
