"""Bitbucket Cloud over REST 2.0, through IntegrationHttp.

Why httpx and not atlassian-python-api: that library's Bitbucket Cloud client is synchronous (requests), so
every call, and every page of a list, would hold a thread of the blocking pool; it sleeps through its own
retries, raises requests' errors for us to re-map, walks `next` pages in its own loop (past our limiter),
and lets requests follow redirects by itself. Bitbucket Cloud is plain JSON over HTTPS, so IntegrationHttp
serves it directly: async calls, the Redis-shared limiter before every page, our jittered retries and typed
errors, `next`-URL pagination held to the connection's origin, and redirects handled on purpose.

A repository is `workspace/slug`. Credentials: a workspace, project or repository access token (Bearer), or
a username with an app password or API token (Basic). Bitbucket answers a pull request's `diff` and
`diffstat` with a redirect to the repository-level endpoint; we follow a redirect only when it stays on the
connection's origin (scheme, host, port) and refuse any other, so the credentials never go to a host the
connection did not name. A 429 pauses the connection for its `Retry-After`, or 10 s when Bitbucket sends
none: its limits are hourly windows, and retrying after a second would only spend more of them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected, IntegrationUnavailable
from app.integrations import bitbucket_shapes as shapes
from app.integrations.connection import CLOUD_URLS, ConnectionInfo
from app.integrations.http import retry_after_seconds
from app.integrations.repository_lists import ScmRepository, bitbucket_repository
from app.integrations.runtime import IntegrationRuntime, static_headers
from app.integrations.scm import PullRequestState
from app.integrations.scm_text import cut_diff, file_text, split_diff
from app.integrations.types import (
    CodeHit,
    Commit,
    Comparison,
    FileContent,
    Identity,
    PullRequest,
    PullRequestComment,
    Tag,
)

SERVICE = shapes.SERVICE
PAGELEN = 100
PULL_REQUEST_PAGELEN = 50  # Bitbucket refuses more on pull request lists
MAX_LIST = 1000
MAX_COMMIT_SCAN = 2000  # since/until are filtered here (Bitbucket has no date filter): a bound on the walk
PATCH_BUDGET = 1_000_000  # the diff read to attach per-file patches to a pull request
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
PAUSE_WITHOUT_RETRY_AFTER_S = 10.0
STATES: dict[str, list[str]] = {
    "open": ["OPEN"],
    "merged": ["MERGED"],
    "closed": ["DECLINED", "SUPERSEDED"],
    "all": ["OPEN", "MERGED", "DECLINED", "SUPERSEDED"],
}
SEGMENT = re.compile(r"^[A-Za-z0-9._{}-]+$")  # a workspace slug or {uuid}, a repository slug
WEB_URLS = {CLOUD_URLS["bitbucket"]: "https://bitbucket.org"}


class BitbucketClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        token = connection.credential("token")
        username, password = connection.credential("username"), connection.credential("password")
        if token:
            authorization = f"Bearer {token}"
        elif username and password:
            authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        else:
            raise IntegrationAuthFailed(
                "bitbucket connection has neither an access token nor a username and app password", service=SERVICE
            )
        self._bearer = bool(token)
        self._workspace: str | None = connection.options.get("workspace") or None
        base = connection.base_url.rstrip("/")
        self._web = WEB_URLS.get(base, base)
        self._origin = urlsplit(base).netloc
        self._http = runtime.http(
            connection,
            auth=static_headers({"Authorization": authorization, "Accept": "application/json"}),
            base_url=base + "/2.0",
            rate_policy=_rate_pause,
            conditional_gets=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def identity(self) -> Identity:
        """The account behind the credentials; for an access token (which may not read /user), what it sees
        of the connection's workspace."""
        try:
            response = await self._http.request("GET", "/user")
        except IntegrationAuthFailed as refused:
            if not self._bearer:
                raise
            if not self._workspace:
                raise IntegrationAuthFailed(
                    f"{refused} (an access token cannot read /user: set the connection's workspace option)",
                    service=SERVICE,
                ) from None
            return await self._workspace_identity()
        user = shapes.obj(response, "the user")
        scopes = _scopes(response)
        kind = "OAuth/access token" if self._bearer else "app password or API token"
        detail = f"Bitbucket Cloud account {user.get('account_id') or '?'} ({kind})"
        with shapes.shape("the user"):
            return Identity(
                login=user.get("username") or user.get("nickname") or user["account_id"],
                name=user.get("display_name"),
                scopes=scopes,
                detail=detail + ("" if scopes else "; Bitbucket did not list the credentials' scopes"),
            )

    async def _workspace_identity(self) -> Identity:
        workspace = _segment(self._workspace or "", "workspace")
        response = await self._http.request("GET", f"/repositories/{workspace}", params={"pagelen": PAGELEN})
        body = shapes.obj(response, "a workspace's repositories")
        repositories = [r for r in body.get("values") or [] if isinstance(r, dict)]
        names = [str(r.get("full_name")) for r in repositories]
        private = sum(1 for r in repositories if r.get("is_private"))
        detail = f"access token for workspace {self._workspace}: sees {body.get('size', len(repositories))} "
        detail += f"repositories ({private} private{', first page' if body.get('next') else ''})"
        if names:
            detail += ": " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        if not private:
            detail += "; no private repository visible, so the token may not belong to this workspace"
        return Identity(login=f"{self._workspace} (access token)", scopes=_scopes(response), detail=detail)

    # --- files -----------------------------------------------------------------------------------------------

    async def get_file(self, repo: str, path: str, *, ref: str | None = None, max_bytes: int = 200_000) -> FileContent:
        base, file_path = _repository(repo), quote(_file_path(path))
        name = ref or await self._main_branch(repo)
        revision = await self._revision(repo, name)
        response = await self._get(f"{base}/src/{revision}/{file_path}", headers={"Accept": "*/*"})
        if shapes.is_listing(response):
            raise IntegrationRejected(f"{path} is a directory in bitbucket repository {repo}", service=SERVICE)
        text, truncated = file_text(response.content, max_bytes)
        return FileContent(
            repo=repo,
            path=path,
            ref=name,
            text=text,
            size=len(response.content),
            truncated=truncated,
            url=f"{self._web}/{repo}/src/{revision}/{file_path}",
        )

    async def _main_branch(self, repo: str) -> str:
        body = await self._http.get_json(_repository(repo), conditional=True)
        with shapes.shape("a repository"):
            branch = (body.get("mainbranch") or {}).get("name")
        if not branch:
            raise IntegrationNotFound(f"bitbucket repository {repo} has no main branch (it is empty)", service=SERVICE)
        return str(branch)

    async def _revision(self, repo: str, ref: str) -> str:
        """`ref` as a path segment. A name with a slash (`feature/x`) would be read as part of the path, so it
        is turned into its commit hash first."""
        if not ref.strip():
            raise IntegrationRejected("an empty ref", service=SERVICE)
        if "/" not in ref:
            return quote(ref, safe="")
        base = _repository(repo)
        for kind in ("branches", "tags"):
            try:
                body = await self._http.get_json(f"{base}/refs/{kind}/{quote(ref)}")
            except IntegrationNotFound:
                continue
            with shapes.shape("a ref"):
                return quote(str(body["target"]["hash"]), safe="")
        raise IntegrationNotFound(f"bitbucket repository {repo} has no branch or tag {ref!r}", service=SERVICE)

    # --- pull requests ---------------------------------------------------------------------------------------

    async def list_pull_requests(
        self, repo: str, *, state: PullRequestState = "open", limit: int = 30
    ) -> list[PullRequest]:
        if state not in STATES:
            raise IntegrationRejected(f"unknown pull request state {state!r}", service=SERVICE)
        limit = _bounded(limit)
        params = {"state": STATES[state], "sort": "-created_on", "pagelen": max(1, min(PULL_REQUEST_PAGELEN, limit))}
        items = self._values(f"{_repository(repo)}/pullrequests", params, limit)
        return [shapes.pull_request(repo, pr, self._web) async for pr in items]

    async def get_pull_request(self, repo: str, number: int, *, max_files: int = 300) -> PullRequest:
        """Metadata, the diffstat's files, and each file's hunks cut from the pull request's diff."""
        path = self._pull_request_path(repo, number)
        pr = shapes.pull_request(repo, await self._http.get_json(path), self._web)
        stat = self._values(f"{path}/diffstat", {"pagelen": PAGELEN}, max(0, min(int(max_files), MAX_LIST)))
        files = [shapes.changed_file(entry) async for entry in stat]
        if files:
            text = await self._diff(repo, number)
            patches = split_diff(cut_diff(text, PATCH_BUDGET))
            if len(text.encode()) > PATCH_BUDGET and patches:
                patches.pop(list(patches)[-1])  # the last file was cut off mid-way: no patch beats half a patch
            files = [file.model_copy(update={"patch": patches.get(file.path)}) for file in files]
        return pr.model_copy(update={"files": files})

    async def get_pull_request_diff(self, repo: str, number: int, *, max_bytes: int = 500_000) -> str:
        return cut_diff(await self._diff(repo, number), max_bytes)

    async def _diff(self, repo: str, number: int) -> str:
        response = await self._get(f"{self._pull_request_path(repo, number)}/diff", headers={"Accept": "text/plain"})
        return response.text

    async def comment_on_pull_request(self, repo: str, number: int, body: str) -> str:
        return (await self.create_comment(repo, number, body)).url or ""

    async def comment_on_line(
        self, repo: str, number: int, *, path: str, line: int, body: str, commit_sha: str | None = None
    ) -> str:
        """An inline comment on `line` of `path` (new side) in the pull request; returns its URL. Bitbucket
        anchors it to the pull request's current diff: `commit_sha` is part of the shared signature, unused."""
        return (await self.create_comment(repo, number, body, path=path, line=line)).url or ""

    async def create_comment(
        self, repo: str, number: int, body: str, *, path: str | None = None, line: int | None = None
    ) -> PullRequestComment:
        """A comment on the pull request, or inline on `line` (new side) of `path`, with its id."""
        payload: dict[str, Any] = {"content": {"raw": _checked(body)}}
        if path is not None:
            if line is None or int(line) < 1:
                raise IntegrationRejected("an inline comment needs a line number", service=SERVICE)
            payload["inline"] = {"path": _file_path(path), "to": int(line)}
        where = f"{self._pull_request_path(repo, number)}/comments"
        raw = shapes.obj(await self._http.request("POST", where, json_body=payload), "a comment")
        return shapes.comment(raw, self._pull_request_url(repo, number))

    async def update_comment(self, repo: str, number: int, comment_id: str, body: str) -> PullRequestComment:
        """Replace a comment's text, in place."""
        where = f"{self._pull_request_path(repo, number)}/comments/{_comment_id(comment_id)}"
        payload = {"content": {"raw": _checked(body)}}
        raw = shapes.obj(await self._http.request("PUT", where, json_body=payload), "a comment")
        return shapes.comment(raw, self._pull_request_url(repo, number))

    async def resolve_comment(self, repo: str, number: int, comment_id: str) -> None:
        """Resolve the thread a top-level inline comment starts (Bitbucket answers 409 when it already is)."""
        where = f"{self._pull_request_path(repo, number)}/comments/{_comment_id(comment_id)}/resolve"
        await self._http.request("POST", where, ok=(409,))

    async def list_comments(self, repo: str, number: int, *, limit: int = 300) -> list[PullRequestComment]:
        """The pull request's comments (deleted ones left out), oldest first."""
        url = self._pull_request_url(repo, number)
        items = self._values(f"{self._pull_request_path(repo, number)}/comments", {"pagelen": PAGELEN}, _bounded(limit))
        return [shapes.comment(raw, url) async for raw in items if isinstance(raw, dict) and not raw.get("deleted")]

    async def approve(self, repo: str, number: int) -> None:
        await self._http.request("POST", f"{self._pull_request_path(repo, number)}/approve")

    async def request_changes(self, repo: str, number: int) -> None:
        await self._http.request("POST", f"{self._pull_request_path(repo, number)}/request-changes")

    async def diff_between(self, repo: str, base: str, head: str, *, max_bytes: int = 500_000) -> str:
        """The unified diff of what `head` changes since `base` (`git diff base head`)."""
        head_revision, base_revision = await self._revision(repo, head), await self._revision(repo, base)
        where = f"{_repository(repo)}/diff/{head_revision}..{base_revision}"
        response = await self._get(where, params={"topic": "false"}, headers={"Accept": "text/plain"})
        return cut_diff(response.text, max_bytes)

    def _pull_request_url(self, repo: str, number: int) -> str:
        return f"{self._web}/{repo}/pull-requests/{int(number)}"

    def _pull_request_path(self, repo: str, number: int) -> str:
        return f"{_repository(repo)}/pullrequests/{int(number)}"

    # --- search, commits, tags -------------------------------------------------------------------------------

    async def search_code(self, query: str, *, repo: str | None = None, limit: int = 20) -> list[CodeHit]:
        """Bitbucket searches a workspace: the repository's, or the connection's workspace option."""
        if not query.strip():
            raise IntegrationRejected("an empty code search query", service=SERVICE)
        if repo:
            workspace, slug = _parts(repo)
            query = f"{query} repo:{slug}"
        elif self._workspace:
            workspace = self._workspace
        else:
            raise IntegrationRejected(
                "bitbucket code search needs a workspace: name a repository or set the connection's workspace option",
                service=SERVICE,
            )
        limit = _bounded(limit)
        params = {"search_query": query, "pagelen": max(1, min(PAGELEN, limit))}
        items = self._values(f"/workspaces/{_segment(workspace, 'workspace')}/search/code", params, limit)
        return [shapes.code_hit(result, repo or workspace, self._web) async for result in items]

    async def list_commits(
        self,
        repo: str,
        *,
        ref: str | None = None,
        path: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Commit]:
        """Newest first on `ref` (the main branch by default). Bitbucket has no date filter: the walk skips
        commits after `until`, stops at the first before `since`, and reads at most MAX_COMMIT_SCAN."""
        limit = _bounded(limit)
        if limit == 0:
            return []
        params: dict[str, Any] = {"path": _file_path(path)} if path else {}
        revision = await self._revision(repo, ref or await self._main_branch(repo))
        since, until = _aware(since), _aware(until)
        params["pagelen"] = PAGELEN if since or until else max(1, min(PAGELEN, limit))
        found: list[Commit] = []
        walk = self._values(f"{_repository(repo)}/commits/{revision}", params, MAX_COMMIT_SCAN)
        async with aclosing(walk) as commits:
            async for raw in commits:
                commit = shapes.commit(repo, raw, self._web)
                when = _aware(commit.authored_at)
                if until and when and when > until:
                    continue
                if since and when and when < since:
                    break
                found.append(commit)
                if len(found) >= limit:
                    break
        return found

    async def compare(self, repo: str, base: str, head: str, *, limit: int = 250, max_files: int = 300) -> Comparison:
        """What `head` adds to `base`: its commits, oldest first (the newest `limit` of them), and the files it
        changes since the merge base. `status` is "identical" when it adds nothing, else unknown."""
        limit, max_files = _bounded(limit), _bounded(max_files)
        path = _repository(repo)
        head_revision, base_revision = await self._revision(repo, head), await self._revision(repo, base)
        params = {"exclude": base, "pagelen": max(1, min(PAGELEN, limit))}
        walk = self._values(f"{path}/commits/{head_revision}", params, limit)
        commits = [shapes.commit(repo, raw, self._web) async for raw in walk]
        commits.reverse()
        # Bitbucket's spec reads source..destination: what head has over base, from their merge base (topic).
        spec = f"{head_revision}..{base_revision}"
        stat = self._values(f"{path}/diffstat/{spec}", {"topic": "true", "pagelen": PAGELEN}, max_files)
        return Comparison(
            base=base,
            head=head,
            status=None if commits else "identical",
            ahead_by=len(commits),
            commits=commits,
            files=[shapes.changed_file(entry) async for entry in stat],
            url=f"{self._web}/{repo}/branches/compare/{head_revision}%0D{base_revision}",
        )

    async def list_tags(self, repo: str, *, limit: int = 100) -> list[Tag]:
        """Newest commit first."""
        limit = _bounded(limit)
        params = {"sort": "-target.date", "pagelen": max(1, min(PAGELEN, limit))}
        return [
            shapes.tag(repo, raw, self._web)
            async for raw in self._values(f"{_repository(repo)}/refs/tags", params, limit)
        ]

    # --- repositories (crawling) ----------------------------------------------------------------------------

    async def list_repositories(
        self, *, workspace: str, query: str | None = None, limit: int = MAX_LIST
    ) -> AsyncIterator[ScmRepository]:
        """A workspace's repositories, narrowed by a BBQL `query` when given."""
        params: dict[str, Any] = {"pagelen": PAGELEN} | ({"q": query} if query else {})
        async for raw in self._values(f"/repositories/{_segment(workspace, 'workspace')}", params, _bounded(limit)):
            yield bitbucket_repository(raw)

    async def get_repository(self, repo: str) -> ScmRepository:
        return bitbucket_repository(await self._http.get_json(_repository(repo)))

    async def branch_head(self, repo: str, branch: str) -> str:
        """The full hash a branch points at."""
        body = await self._http.get_json(f"{_repository(repo)}/refs/branches/{quote(branch)}")
        with shapes.shape("a branch"):
            return str(body["target"]["hash"])

    # --- calls -----------------------------------------------------------------------------------------------

    async def _get(
        self, path: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A GET that follows Bitbucket's redirects while they stay on the connection's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._http.request("GET", path, params=params, headers=headers, ok=REDIRECTS)
            if response.status_code not in REDIRECTS:
                return response
            location = response.headers.get("location")
            if not location:
                raise IntegrationUnavailable("bitbucket redirected without saying where", service=SERVICE)
            path, params = self._same_origin(urljoin(str(response.request.url), location)), None
        raise IntegrationUnavailable("bitbucket redirected too many times", service=SERVICE)

    def _same_origin(self, url: str) -> str:
        try:
            return self._http.url(url)
        except IntegrationUnavailable:
            host = urlsplit(url).hostname or "?"
            raise IntegrationUnavailable(
                f"bitbucket redirected to another host ({host}); not followed, so the credentials stay with "
                f"{self._origin}",
                service=SERVICE,
            ) from None

    async def _values(self, path: str, params: Mapping[str, Any], limit: int) -> AsyncIterator[Any]:
        """The `values` of a paged list, at most `limit`, following the body's `next`. The first page may be a
        redirect (a pull request's diffstat); later pages are absolute `next` URLs on the same origin."""
        if limit <= 0:
            return
        body = shapes.obj(await self._get(path, params=params), "a page of results")
        count = 0
        for item in body.get("values") or []:
            yield item
            count += 1
            if count >= limit:
                return
        if body.get("next"):
            async for item in self._http.paginate(
                self._same_origin(str(body["next"])), limit=limit - count, items=_page_values, next_url=_next
            ):
                yield item


def _repository(repo: str) -> str:
    workspace, slug = _parts(repo)
    return f"/repositories/{_segment(workspace, 'workspace')}/{_segment(slug, 'repository')}"


def _parts(repo: str) -> tuple[str, str]:
    parts = (repo or "").strip("/").split("/")
    if len(parts) != 2 or not all(SEGMENT.match(p) and p not in (".", "..") for p in parts):
        raise IntegrationRejected(f"{repo!r} is not a Bitbucket repository (workspace/slug)", service=SERVICE)
    return parts[0], parts[1]


def _segment(value: str, what: str) -> str:
    if not SEGMENT.match(value) or value in (".", ".."):
        raise IntegrationRejected(f"{value!r} is not a Bitbucket {what} name", service=SERVICE)
    return quote(value, safe="")


def _file_path(path: str) -> str:
    """`path` checked to stay inside the repository (no `..` steps toward other API paths)."""
    parts = path.strip("/").split("/")
    if not path.strip("/") or any(part in ("", ".", "..") for part in parts):
        raise IntegrationRejected(f"{path!r} is not a file path in a repository", service=SERVICE)
    return "/".join(parts)


def _rate_pause(response: httpx.Response) -> float | None:
    if response.status_code == 429:
        return retry_after_seconds(response) or PAUSE_WITHOUT_RETRY_AFTER_S
    return None


def _page_values(body: Any) -> list[Any]:
    return list(body.get("values") or []) if isinstance(body, dict) else []


def _next(_response: httpx.Response, body: Any) -> str | None:
    return body.get("next") if isinstance(body, dict) else None


def _scopes(response: httpx.Response) -> list[str]:
    raw = response.headers.get("x-oauth-scopes") or ""
    return [scope.strip() for scope in raw.split(",") if scope.strip()]


def _comment_id(comment_id: str) -> str:
    if not str(comment_id).isdigit():
        raise IntegrationRejected(f"{comment_id!r} is not a bitbucket comment id", service=SERVICE)
    return str(comment_id)


def _checked(body: str) -> str:
    if not body.strip():
        raise IntegrationRejected("an empty comment", service=SERVICE)
    return body


def _bounded(limit: int) -> int:
    return max(0, min(int(limit), MAX_LIST))


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
