"""Listing a service's repositories (an organisation's, a group's, a workspace's, those with a topic, or named
ones) in one provider-neutral shape, over the client's IntegrationHttp, so listings share the connection's rate
limits.

GitHub: `GET /orgs/{org}/repos` and `GET /search/repositories?q=topic:…` (each item as `GET /repos/{repo}`
answers). GitLab: `GET /groups/{group}/projects?include_subgroups=true` and `GET /projects?topic=…`, with
`statistics=true` for sizes; a project's main language is the largest share of `GET /projects/:id/languages`,
read only when asked (one call per project). Bitbucket Cloud: `GET /repositories/{workspace}`, narrowed by a
BBQL `q` on language and `updated_on`; it has no archived state and no topics, and a fork names its `parent`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from app.errors import IntegrationRejected, IntegrationUnavailable
from app.integrations.http import IntegrationHttp

PER_PAGE = 100
SEARCH_MAX = 1000  # GitHub's search answers at most 1,000 results


@dataclass(frozen=True)
class ScmRepository:
    full_name: str  # owner/name, group/subgroup/project
    clone_url: str  # https clone URL as the service gives it
    default_branch: str | None  # None: an empty repository
    language: str | None
    archived: bool
    fork: bool
    size_kb: int | None  # None: the service did not say
    pushed_at: datetime | None
    topics: tuple[str, ...]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _shaped(service: str, what: str, read: Callable[[], ScmRepository]) -> ScmRepository:
    try:
        return read()
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IntegrationUnavailable(f"{service} answered an unexpected shape for {what}", service=service) from None


# --- GitHub ------------------------------------------------------------------------------------------------


def github_repository(raw: Any) -> ScmRepository:
    def read() -> ScmRepository:
        size = raw.get("size")
        return ScmRepository(
            full_name=str(raw["full_name"]),
            clone_url=str(raw["clone_url"]),
            default_branch=raw.get("default_branch") or None,
            language=raw.get("language") or None,
            archived=bool(raw.get("archived")),
            fork=bool(raw.get("fork")),
            size_kb=int(size) if isinstance(size, int) else None,
            pushed_at=_when(raw.get("pushed_at")),
            topics=tuple(str(t) for t in raw.get("topics") or ()),
        )

    return _shaped("github", "a repository", read)


async def github_listing(
    http: IntegrationHttp, *, org: str | None, topic: str | None, limit: int
) -> AsyncIterator[ScmRepository]:
    if topic is not None:
        query = f"topic:{topic}" + (f" org:{org}" if org else "")
        pages = http.paginate(
            "/search/repositories",
            params={"q": query, "per_page": PER_PAGE},
            limit=min(limit, SEARCH_MAX),
            items=lambda body: list(body.get("items") or []) if isinstance(body, dict) else [],
        )
    elif org is not None:
        pages = http.paginate(
            f"/orgs/{quote(org, safe='')}/repos",
            params={"type": "all", "sort": "full_name", "per_page": PER_PAGE},
            limit=limit,
        )
    else:
        raise IntegrationRejected("listing github repositories needs an organisation or a topic", service="github")
    async for raw in pages:
        yield github_repository(raw)


# --- GitLab ------------------------------------------------------------------------------------------------


def gitlab_repository(raw: Any, language: str | None = None) -> ScmRepository:
    def read() -> ScmRepository:
        statistics = raw.get("statistics") or {}
        size = statistics.get("repository_size")
        return ScmRepository(
            full_name=str(raw["path_with_namespace"]),
            clone_url=str(raw["http_url_to_repo"]),
            default_branch=raw.get("default_branch") or None,
            language=language,
            archived=bool(raw.get("archived")),
            fork=raw.get("forked_from_project") is not None,
            size_kb=int(size) // 1024 if isinstance(size, int) else None,
            pushed_at=_when(raw.get("last_activity_at")),
            topics=tuple(str(t) for t in (raw.get("topics") or raw.get("tag_list") or ())),
        )

    return _shaped("gitlab", "a project", read)


def gitlab_main_language(body: Any) -> str | None:
    """The language with the largest share (GitLab answers `{"Python": 80.1, "Shell": 19.9}`)."""
    if not isinstance(body, dict) or not body:
        return None
    shares = {str(k): float(v) for k, v in body.items() if isinstance(v, (int, float))}
    return max(shares, key=lambda name: shares[name]) if shares else None


async def gitlab_listing(
    http: IntegrationHttp,
    *,
    group: str | None,
    topic: str | None,
    limit: int,
    next_url: Callable[[httpx.Response, Any], str | None],
) -> AsyncIterator[dict[str, Any]]:
    """Raw projects: the caller reads languages per project only when it needs them."""
    params: dict[str, Any] = {"statistics": "true", "order_by": "path", "sort": "asc", "per_page": PER_PAGE}
    if topic is not None:
        params["topic"] = topic
    if group is not None:
        path = f"/groups/{quote(group.strip('/'), safe='')}/projects"
        params |= {"include_subgroups": "true", "with_shared": "false"}
    elif topic is not None:
        path = "/projects"
        params["membership"] = "true"
    else:
        raise IntegrationRejected("listing gitlab projects needs a group or a topic", service="gitlab")
    async for raw in http.paginate(path, params=params, limit=limit, next_url=next_url):
        if not isinstance(raw, dict):
            raise IntegrationUnavailable("gitlab answered an unexpected shape for a project", service="gitlab")
        yield raw


# --- Bitbucket Cloud ---------------------------------------------------------------------------------------

BBQL_LANGUAGE = re.compile(r"^[a-z0-9 +#._-]+$")  # Bitbucket's language names, lower case (c++, c#, objective-c)


def bitbucket_repository(raw: Any) -> ScmRepository:
    def read() -> ScmRepository:
        size = raw.get("size")
        return ScmRepository(
            full_name=str(raw["full_name"]),
            clone_url=_without_user(_https_clone(raw)),
            default_branch=(raw.get("mainbranch") or {}).get("name") or None,
            language=raw.get("language") or None,
            archived=False,
            fork=raw.get("parent") is not None,
            size_kb=int(size) // 1024 if isinstance(size, int) else None,  # Bitbucket reports bytes
            # `updated_on` also moves on settings changes, so it is never earlier than the last push: a
            # repository it leaves out was not pushed since either.
            pushed_at=_when(raw.get("updated_on")),
            topics=(),
        )

    return _shaped("bitbucket", "a repository", read)


def _https_clone(raw: Any) -> str:
    for link in raw["links"]["clone"]:
        if link.get("name") == "https":
            return str(link["href"])
    raise KeyError("https")


def _without_user(url: str) -> str:
    """Bitbucket's https clone link names the calling account (`https://ada@bitbucket.org/...`); the clone's
    credentials are kept apart from the URL, so the URL stored and shown carries none."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def bitbucket_query(*, languages: Sequence[str], pushed_since: datetime | None) -> str | None:
    """The BBQL `q` that lets Bitbucket leave out what the filters would (the filters still apply to what it
    answers); None when nothing can be asked of it. A language outside Bitbucket's names is not sent."""
    clauses = []
    names = [name.lower() for name in languages]
    if names and all(BBQL_LANGUAGE.match(name) for name in names):
        either = " OR ".join(f'language = "{name}"' for name in names)
        clauses.append(f"({either})" if len(names) > 1 else either)
    if pushed_since is not None:
        moment = pushed_since if pushed_since.tzinfo else pushed_since.replace(tzinfo=UTC)
        clauses.append(f"updated_on >= {moment.astimezone(UTC).isoformat(timespec='seconds')}")
    return " AND ".join(clauses) or None
