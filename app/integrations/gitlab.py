"""GitLab (gitlab.com or self-managed) over REST v4, through IntegrationHttp.

A project is named by its full path (`group/subgroup/project`) and sent URL-encoded as one path segment, as
GitLab wants. A personal, project or group access token travels in `PRIVATE-TOKEN`; an OAuth token (the
connection's `oauth` option) as `Authorization: Bearer`. Lists follow the `Link: rel="next"` header (or
`X-Next-Page` where a proxy drops Link) at up to 100 per page; a 429 with `Retry-After` / `RateLimit-Reset`,
or a success that spent the last of `RateLimit-Remaining`, pauses every worker through the shared limiter.
Files and project metadata use conditional GETs: GitLab answers a matching `If-None-Match` with a 304.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected, IntegrationUnavailable
from app.integrations.connection import ConnectionInfo
from app.integrations.runtime import IntegrationRuntime, static_headers
from app.integrations.scm import PullRequestState
from app.integrations.scm_text import count_changes, cut_diff, file_text
from app.integrations.types import (
    CodeHit,
    Commit,
    FileContent,
    Identity,
    PullRequest,
    PullRequestFile,
    Tag,
)

SERVICE = "gitlab"
PER_PAGE = 100
MAX_LIST = 1000
MAX_DIFF_FILES = 3000
FRAGMENT_CHARS = 600
STATES: dict[str, str] = {"open": "opened", "closed": "closed", "merged": "merged", "all": "all"}


class GitLabClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        token = connection.credential("token")
        if not token:
            raise IntegrationAuthFailed("gitlab connection has no token", service=SERVICE)
        self._oauth = bool(connection.options.get("oauth"))
        headers = {"Authorization": f"Bearer {token}"} if self._oauth else {"PRIVATE-TOKEN": token}
        self._web = connection.base_url.rstrip("/")
        self._http = runtime.http(
            connection,
            auth=static_headers(headers | {"Accept": "application/json"}),
            base_url=self._web + "/api/v4",
            conditional_gets=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def identity(self) -> Identity:
        user = await self._http.get_json("/user")
        host = urlsplit(self._web).hostname or self._web
        kind = "access token of a bot user (project or group token)" if user.get("bot") else "user token"
        scopes: list[str] = []
        try:
            if self._oauth:
                info = await self._http.get_json(self._web + "/oauth/token/info")
                scopes = _as_list(info.get("scope") or info.get("scopes"))
                detail = f"GitLab at {host}, OAuth token"
            else:
                token = await self._http.get_json("/personal_access_tokens/self")
                scopes = _as_list(token.get("scopes"))
                expiry = token.get("expires_at") or "never"
                detail = f"GitLab at {host}, {kind} {token.get('name')!r} (expires {expiry})"
        except (IntegrationAuthFailed, IntegrationNotFound):
            # Older GitLab (before 15.5) and some token types cannot describe themselves; /user answered, so
            # the token works, only its scopes are unknown.
            detail = f"GitLab at {host}, {kind}; scopes unknown (GitLab did not describe this token)"
        return Identity(login=user["username"], name=user.get("name"), scopes=scopes, detail=detail)

    # --- files -----------------------------------------------------------------------------------------------

    async def get_file(self, repo: str, path: str, *, ref: str | None = None, max_bytes: int = 200_000) -> FileContent:
        project = _project(repo)
        ref = ref or await self._default_branch(repo)
        body = await self._http.get_json(
            f"/projects/{project}/repository/files/{quote(path, safe='')}", params={"ref": ref}, conditional=True
        )
        data = _decode_content(body)
        text, truncated = file_text(data, max_bytes)
        return FileContent(
            repo=repo,
            path=body.get("file_path") or path,
            ref=ref,
            text=text,
            size=int(body.get("size") or len(data)),
            truncated=truncated,
            url=f"{self._web}/{repo}/-/blob/{quote(ref)}/{quote(path)}",
        )

    async def _default_branch(self, repo: str) -> str:
        project = await self._http.get_json(f"/projects/{_project(repo)}", conditional=True)
        branch = project.get("default_branch")
        if not branch:
            raise IntegrationNotFound(f"gitlab project {repo} has no default branch (it is empty)", service=SERVICE)
        return str(branch)

    # --- merge requests --------------------------------------------------------------------------------------

    async def list_pull_requests(
        self, repo: str, *, state: PullRequestState = "open", limit: int = 30
    ) -> list[PullRequest]:
        if state not in STATES:
            raise IntegrationRejected(f"unknown merge request state {state!r}", service=SERVICE)
        params = {"state": STATES[state], "order_by": "created_at", "sort": "desc"}
        items = self._list(f"/projects/{_project(repo)}/merge_requests", params, limit)
        return [self._merge_request(repo, mr) async for mr in items]

    async def get_pull_request(self, repo: str, number: int, *, max_files: int = 300) -> PullRequest:
        mr = await self._http.get_json(f"/projects/{_project(repo)}/merge_requests/{int(number)}")
        files = [_changed_file(change) async for change in self._changes(repo, number, max_files)]
        return self._merge_request(repo, mr).model_copy(update={"files": files})

    async def get_pull_request_diff(self, repo: str, number: int, *, max_bytes: int = 500_000) -> str:
        parts: list[str] = []
        size = 0
        async for change in self._changes(repo, number, MAX_DIFF_FILES):
            part = _unified(change)
            parts.append(part)
            size += len(part.encode())
            if size > max_bytes:
                break  # the rest would be cut anyway: no need to fetch it
        return cut_diff("".join(parts), max_bytes)

    async def _changes(self, repo: str, number: int, limit: int) -> AsyncIterator[dict[str, Any]]:
        base = f"/projects/{_project(repo)}/merge_requests/{int(number)}"
        sent = 0
        try:
            async for change in self._list(f"{base}/diffs", {}, limit):
                sent += 1
                yield change
            return
        except IntegrationNotFound:
            if sent:
                raise
            # GitLab before 15.7 has no /diffs: the (unpaginated) /changes of the merge request instead.
        body = await self._http.get_json(f"{base}/changes")
        for change in (body.get("changes") or [])[: max(0, limit)]:
            yield change

    async def comment_on_pull_request(self, repo: str, number: int, body: str) -> str:
        _check_body(body)
        note = _json_of(
            await self._http.request(
                "POST", f"/projects/{_project(repo)}/merge_requests/{int(number)}/notes", json_body={"body": body}
            )
        )
        return self._note_url(repo, number, note.get("id"))

    async def comment_on_line(
        self, repo: str, number: int, *, path: str, line: int, body: str, commit_sha: str | None = None
    ) -> str:
        """A diff note on `line` of `path` in the merge request's newest version (or the version ending at
        `commit_sha`); returns its URL."""
        _check_body(body)
        mr = await self._http.get_json(f"/projects/{_project(repo)}/merge_requests/{int(number)}")
        refs = mr.get("diff_refs") or {}
        if not refs.get("base_sha") or not refs.get("head_sha"):
            raise IntegrationRejected(f"gitlab merge request !{number} has no diff to comment on", service=SERVICE)
        position = {
            "position_type": "text",
            "base_sha": refs["base_sha"],
            "start_sha": refs.get("start_sha") or refs["base_sha"],
            "head_sha": commit_sha or refs["head_sha"],
            "old_path": path,
            "new_path": path,
            "new_line": int(line),
        }
        discussion = _json_of(
            await self._http.request(
                "POST",
                f"/projects/{_project(repo)}/merge_requests/{int(number)}/discussions",
                json_body={"body": body, "position": position},
            )
        )
        notes = discussion.get("notes") or [{}]
        return self._note_url(repo, number, notes[0].get("id"))

    def _note_url(self, repo: str, number: int, note_id: Any) -> str:
        url = f"{self._web}/{repo}/-/merge_requests/{int(number)}"
        return f"{url}#note_{note_id}" if note_id else url

    def _merge_request(self, repo: str, mr: Mapping[str, Any]) -> PullRequest:
        refs = mr.get("diff_refs") or {}
        return PullRequest(
            repo=repo,
            number=mr["iid"],
            title=mr.get("title") or "",
            body=mr.get("description") or "",
            state=_state(mr),
            author=(mr.get("author") or {}).get("username"),
            source_branch=mr.get("source_branch"),
            target_branch=mr.get("target_branch"),
            head_sha=refs.get("head_sha") or mr.get("sha"),
            base_sha=refs.get("base_sha"),
            labels=[label if isinstance(label, str) else label.get("name", "") for label in mr.get("labels") or []],
            created_at=mr.get("created_at"),
            updated_at=mr.get("updated_at"),
            merged_at=mr.get("merged_at"),
            url=mr.get("web_url") or f"{self._web}/{repo}/-/merge_requests/{mr['iid']}",
        )

    # --- search, commits, tags -------------------------------------------------------------------------------

    async def search_code(self, query: str, *, repo: str | None = None, limit: int = 20) -> list[CodeHit]:
        """Blobs matching `query` in one project, or across the instance (GitLab needs advanced search for
        that: without it the instance rejects the call)."""
        if not query.strip():
            raise IntegrationRejected("an empty code search query", service=SERVICE)
        path = f"/projects/{_project(repo)}/search" if repo else "/search"
        paths: dict[int, str] = {}
        hits: list[CodeHit] = []
        async for blob in self._list(path, {"scope": "blobs", "search": query}, limit):
            project = repo or await self._project_path(blob.get("project_id"), paths)
            file_path = blob.get("path") or blob.get("filename") or ""
            ref = blob.get("ref") or "HEAD"
            line = blob.get("startline")
            url = f"{self._web}/{project}/-/blob/{quote(ref)}/{quote(file_path)}" + (f"#L{line}" if line else "")
            fragment = (blob.get("data") or "")[:FRAGMENT_CHARS] or None
            hits.append(CodeHit(repo=project, path=file_path, url=url, fragment=fragment))
        return hits

    async def _project_path(self, project_id: Any, known: dict[int, str]) -> str:
        if not isinstance(project_id, int):
            return "?"
        if project_id not in known:
            body = await self._http.get_json(f"/projects/{project_id}", conditional=True)
            known[project_id] = body.get("path_with_namespace") or str(project_id)
        return known[project_id]

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
        params = {"ref_name": ref, "path": path, "since": _iso(since), "until": _iso(until)}
        return await self._commits(repo, params, limit)

    async def compare(self, repo: str, base: str, head: str, *, limit: int = 250) -> list[Commit]:
        """Commits reachable from `head` and not from `base`, newest first."""
        return await self._commits(repo, {"ref_name": f"{base}..{head}"}, limit)

    async def _commits(self, repo: str, params: dict[str, Any], limit: int) -> list[Commit]:
        query = {name: value for name, value in params.items() if value}
        items = self._list(f"/projects/{_project(repo)}/repository/commits", query, limit)
        return [self._commit(repo, commit) async for commit in items]

    def _commit(self, repo: str, commit: Mapping[str, Any]) -> Commit:
        sha = commit["id"]
        return Commit(
            sha=sha,
            message=commit.get("message") or commit.get("title") or "",
            author_name=commit.get("author_name"),
            author_email=commit.get("author_email"),
            authored_at=commit.get("authored_date") or commit.get("created_at"),
            parents=list(commit.get("parent_ids") or []),
            url=commit.get("web_url") or f"{self._web}/{repo}/-/commit/{sha}",
        )

    async def list_tags(self, repo: str, *, limit: int = 30) -> list[Tag]:
        """Most recently updated first."""
        items = self._list(
            f"/projects/{_project(repo)}/repository/tags", {"order_by": "updated", "sort": "desc"}, limit
        )
        tags: list[Tag] = []
        async for tag in items:
            commit = tag.get("commit") or {}
            tags.append(
                Tag(
                    name=tag["name"],
                    sha=commit.get("id") or tag.get("target") or "",
                    message=tag.get("message") or None,
                    created_at=tag.get("created_at") or commit.get("committed_date") or commit.get("created_at"),
                    url=f"{self._web}/{repo}/-/tags/{quote(tag['name'])}",
                )
            )
        return tags

    # --- paging ----------------------------------------------------------------------------------------------

    def _list(self, path: str, params: Mapping[str, Any], limit: int) -> AsyncIterator[Any]:
        limit = max(0, min(int(limit), MAX_LIST))
        query = dict(params) | {"per_page": max(1, min(PER_PAGE, limit))}
        return self._http.paginate(path, params=query, limit=limit, next_url=_next_page)


def _project(repo: str | None) -> str:
    """The project's id in a URL: its full path, encoded as one segment."""
    parts = (repo or "").strip("/").split("/")
    if len(parts) < 2 or any(part in ("", ".", "..") for part in parts):
        raise IntegrationRejected(f"{repo!r} is not a GitLab project path (group/project)", service=SERVICE)
    return quote("/".join(parts), safe="")


def _next_page(response: httpx.Response, _body: Any) -> str | None:
    link = response.links.get("next", {}).get("url")
    if link:
        return link
    page = response.headers.get("x-next-page")
    return str(response.request.url.copy_set_param("page", page)) if page else None


def _state(mr: Mapping[str, Any]) -> str:
    state = mr.get("state")
    if state == "merged":
        return "merged"
    if state == "closed":
        return "closed"
    return "draft" if mr.get("draft") or mr.get("work_in_progress") else "open"  # opened, locked (merging)


def _changed_file(change: Mapping[str, Any]) -> PullRequestFile:
    patch = change.get("diff") or None
    added, removed = count_changes(patch)
    if change.get("new_file"):
        status = "added"
    elif change.get("deleted_file"):
        status = "removed"
    elif change.get("renamed_file"):
        status = "renamed"
    else:
        status = "modified"
    return PullRequestFile(
        path=change.get("new_path") or change.get("old_path") or "",
        previous_path=change.get("old_path") if status == "renamed" else None,
        status=status,
        additions=added,
        deletions=removed,
        patch=patch,
    )


def _unified(change: Mapping[str, Any]) -> str:
    """One file of the merge request as `git diff` prints it: GitLab sends the hunks without the headers."""
    old, new = change.get("old_path") or "", change.get("new_path") or ""
    lines = [f"diff --git a/{old} b/{new}"]
    old_name, new_name = f"a/{old}", f"b/{new}"
    if change.get("new_file"):
        lines.append(f"new file mode {change.get('b_mode') or '100644'}")
        old_name = "/dev/null"
    elif change.get("deleted_file"):
        lines.append(f"deleted file mode {change.get('a_mode') or '100644'}")
        new_name = "/dev/null"
    else:
        if change.get("a_mode") and change.get("b_mode") and change["a_mode"] != change["b_mode"]:
            lines += [f"old mode {change['a_mode']}", f"new mode {change['b_mode']}"]
        if change.get("renamed_file"):
            lines += [f"rename from {old}", f"rename to {new}"]
    hunks = change.get("diff") or ""
    if hunks.startswith("@@"):
        lines += [f"--- {old_name}", f"+++ {new_name}"]
    text = "\n".join(lines) + "\n" + hunks
    return text if text.endswith("\n") else text + "\n"


def _decode_content(body: Mapping[str, Any]) -> bytes:
    content = body.get("content") or ""
    if body.get("encoding") == "base64":
        try:
            return base64.b64decode(content)
        except (binascii.Error, ValueError):
            raise IntegrationUnavailable("gitlab sent a file that is not valid base64", service=SERVICE) from None
    return str(content).encode()


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _check_body(body: str) -> None:
    if not body.strip():
        raise IntegrationRejected("an empty comment", service=SERVICE)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return [str(item) for item in value or []]
