"""GitLab (gitlab.com or self-managed) over REST v4, through IntegrationHttp.

A project is named by its full path (`group/subgroup/project`) and sent URL-encoded as one path segment, as
GitLab wants. A personal, project or group access token travels in `PRIVATE-TOKEN`; an OAuth token (the
connection's `oauth` option) as `Authorization: Bearer`. Lists follow the `Link: rel="next"` header (or
`X-Next-Page` where a proxy drops Link) at up to 100 per page; a 429 with `Retry-After` / `RateLimit-Reset`,
or a success that spent the last of `RateLimit-Remaining`, pauses every worker through the shared limiter.
Files, project metadata and comparisons use conditional GETs: GitLab answers a matching `If-None-Match`
with a 304.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected, IntegrationUnavailable
from app.integrations import gitlab_shapes as shapes
from app.integrations.connection import ConnectionInfo
from app.integrations.repository_lists import ScmRepository, gitlab_listing, gitlab_main_language, gitlab_repository
from app.integrations.runtime import IntegrationRuntime, static_headers
from app.integrations.scm import PullRequestState
from app.integrations.scm_text import cut_diff, file_text
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
PER_PAGE = 100
MAX_LIST = 1000
MAX_DIFF_FILES = 3000
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
        user = shapes.obj(await self._http.get_json("/user"), "the user")
        host = urlsplit(self._web).hostname or self._web
        kind = "access token of a bot user (project or group token)" if user.get("bot") else "user token"
        scopes: list[str] = []
        try:
            if self._oauth:
                info = shapes.obj(await self._http.get_json(self._web + "/oauth/token/info"), "the token")
                scopes = _as_list(info.get("scope") or info.get("scopes"))
                detail = f"GitLab at {host}, OAuth token"
            else:
                token = shapes.obj(await self._http.get_json("/personal_access_tokens/self"), "the token")
                scopes = _as_list(token.get("scopes"))
                expiry = token.get("expires_at") or "never"
                detail = f"GitLab at {host}, {kind} {token.get('name')!r} (expires {expiry})"
        except (IntegrationAuthFailed, IntegrationNotFound):
            # Older GitLab (before 15.5) and some token types cannot describe themselves; /user answered, so
            # the token works, only its scopes are unknown.
            detail = f"GitLab at {host}, {kind}; scopes unknown (GitLab did not describe this token)"
        with shapes.shape("the user"):
            return Identity(login=user["username"], name=user.get("name"), scopes=scopes, detail=detail)

    # --- files -----------------------------------------------------------------------------------------------

    async def get_file(self, repo: str, path: str, *, ref: str | None = None, max_bytes: int = 200_000) -> FileContent:
        project = _project(repo)
        if not path.strip("/"):
            raise IntegrationRejected("an empty file path", service=SERVICE)
        ref = ref or await self._default_branch(repo)
        raw = await self._http.get_json(
            f"/projects/{project}/repository/files/{quote(path, safe='')}", params={"ref": ref}, conditional=True
        )
        body = shapes.obj(raw, "a file")
        data = shapes.file_bytes(body)
        text, truncated = file_text(data, max_bytes)
        with shapes.shape("a file"):
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
        project = shapes.obj(await self._http.get_json(f"/projects/{_project(repo)}", conditional=True), "a project")
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
        return [shapes.merge_request(repo, mr, self._web) async for mr in items]

    async def get_pull_request(self, repo: str, number: int, *, max_files: int = 300) -> PullRequest:
        mr = await self._http.get_json(self._merge_request_path(repo, number))
        files = [shapes.changed_file(change) async for change in self._changes(repo, number, max_files)]
        return shapes.merge_request(repo, shapes.obj(mr, "a merge request"), self._web).model_copy(
            update={"files": files}
        )

    async def get_pull_request_diff(self, repo: str, number: int, *, max_bytes: int = 500_000) -> str:
        parts: list[str] = []
        size = 0
        async with aclosing(self._changes(repo, number, MAX_DIFF_FILES)) as changes:
            async for change in changes:
                with shapes.shape("a changed file"):
                    part = shapes.unified(change)
                parts.append(part)
                size += len(part.encode())
                if size > max_bytes:
                    break  # the rest would be cut anyway: no need to fetch it
        return cut_diff("".join(parts), max_bytes)

    async def _changes(self, repo: str, number: int, limit: int) -> AsyncIterator[dict[str, Any]]:
        path = self._merge_request_path(repo, number)
        sent = 0
        try:
            async for change in self._list(f"{path}/diffs", {}, limit, cap=MAX_DIFF_FILES):
                sent += 1
                yield change
            return
        except IntegrationNotFound:
            if sent:
                raise
            # GitLab before 15.7 has no /diffs: the (unpaginated) /changes of the merge request instead.
        body = shapes.obj(await self._http.get_json(f"{path}/changes"), "merge request changes")
        for change in (body.get("changes") or [])[: max(0, min(limit, MAX_DIFF_FILES))]:
            yield change

    async def comment_on_pull_request(self, repo: str, number: int, body: str) -> str:
        return (await self.add_note(repo, number, body)).url or ""

    async def comment_on_line(
        self, repo: str, number: int, *, path: str, line: int, body: str, commit_sha: str | None = None
    ) -> str:
        """A diff note on `line` of `path` (new side) in the merge request's newest version (or the version
        ending at `commit_sha`); returns its URL."""
        refs = await self.diff_refs(repo, number)
        if commit_sha:
            refs = refs | {"head_sha": commit_sha}
        return (await self.start_discussion(repo, number, path=path, line=line, body=body, refs=refs)).url or ""

    async def diff_refs(self, repo: str, number: int) -> dict[str, str]:
        """The SHAs a diff note's position names: the merge request's base, start and head."""
        mr = shapes.obj(await self._http.get_json(self._merge_request_path(repo, number)), "a merge request")
        refs = mr.get("diff_refs") or {}
        if not refs.get("base_sha") or not refs.get("head_sha"):
            raise IntegrationRejected(f"gitlab merge request !{number} has no diff to comment on", service=SERVICE)
        return {
            "base_sha": str(refs["base_sha"]),
            "start_sha": str(refs.get("start_sha") or refs["base_sha"]),
            "head_sha": str(refs["head_sha"]),
        }

    async def add_note(self, repo: str, number: int, body: str) -> PullRequestComment:
        """A top-level note on the merge request, with the id to edit it by later."""
        _check_body(body)
        path = f"{self._merge_request_path(repo, number)}/notes"
        note = _json_of(await self._http.request("POST", path, json_body={"body": body}))
        return shapes.note(note, self._mr_url(repo, number))

    async def update_note(self, repo: str, number: int, note_id: str, body: str) -> PullRequestComment:
        """Replace a note's text, in place."""
        _check_body(body)
        path = f"{self._merge_request_path(repo, number)}/notes/{_note_id(note_id)}"
        note = _json_of(await self._http.request("PUT", path, json_body={"body": body}))
        return shapes.note(note, self._mr_url(repo, number))

    async def start_discussion(
        self,
        repo: str,
        number: int,
        *,
        path: str,
        line: int,
        body: str,
        refs: Mapping[str, str],
        old_path: str | None = None,
        old_line: int | None = None,
    ) -> PullRequestComment:
        """A resolvable discussion on a line of the diff at `refs` (diff_refs). An added line is named by its
        new-side number only; an unchanged line GitLab wants by both numbers (`old_line` too)."""
        _check_body(body)
        position: dict[str, Any] = {
            "position_type": "text",
            "base_sha": refs["base_sha"],
            "start_sha": refs.get("start_sha") or refs["base_sha"],
            "head_sha": refs["head_sha"],
            "old_path": old_path or path,
            "new_path": path,
            "new_line": int(line),
        }
        if old_line is not None:
            position["old_line"] = int(old_line)
        payload = {"body": body, "position": position}
        discussion = _json_of(
            await self._http.request("POST", f"{self._merge_request_path(repo, number)}/discussions", json_body=payload)
        )
        notes = discussion.get("notes") or []
        if not notes or not isinstance(notes[0], dict):
            raise IntegrationUnavailable("gitlab answered a discussion without its note", service=SERVICE)
        return shapes.note(notes[0], self._mr_url(repo, number), thread_id=str(discussion.get("id") or ""))

    async def resolve_discussion(self, repo: str, number: int, discussion_id: str, *, resolved: bool = True) -> None:
        if not re.fullmatch(r"[0-9a-f]{1,64}", discussion_id or ""):
            raise IntegrationRejected(f"{discussion_id!r} is not a gitlab discussion id", service=SERVICE)
        path = f"{self._merge_request_path(repo, number)}/discussions/{discussion_id}"
        await self._http.request("PUT", path, params={"resolved": "true" if resolved else "false"})

    async def list_discussions(self, repo: str, number: int, *, limit: int = 300) -> list[PullRequestComment]:
        """Each discussion's first note (system notes left out), oldest first."""
        url = self._mr_url(repo, number)
        found: list[PullRequestComment] = []
        async for discussion in self._list(f"{self._merge_request_path(repo, number)}/discussions", {}, limit):
            notes = [n for n in (discussion or {}).get("notes") or [] if isinstance(n, dict) and not n.get("system")]
            if notes:
                found.append(shapes.note(notes[0], url, thread_id=str(discussion.get("id") or "")))
        return found

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> list[str]:
        """Add labels to the merge request (GitLab creates those the project lacks); returns all its labels."""
        if not labels or any(not label.strip() or "," in label or len(label) > 255 for label in labels):
            raise IntegrationRejected("gitlab labels are 1 to 255 characters without commas", service=SERVICE)
        body = _json_of(
            await self._http.request(
                "PUT", self._merge_request_path(repo, number), json_body={"add_labels": ",".join(labels)}
            )
        )
        return [label if isinstance(label, str) else str(label.get("name")) for label in body.get("labels") or []]

    async def approve(self, repo: str, number: int, *, sha: str) -> None:
        """Approve the merge request at `sha` (GitLab refuses when the head has moved on since)."""
        await self._http.request("POST", f"{self._merge_request_path(repo, number)}/approve", json_body={"sha": sha})

    async def note_award_emoji(
        self, repo: str, number: int, note_id: str, *, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(username, emoji name) of each award on a merge request note: `thumbsup`, `thumbsdown`, ..."""
        path = f"{self._merge_request_path(repo, number)}/notes/{_note_id(note_id)}/award_emoji"
        found: list[tuple[str, str]] = []
        async for raw in self._list(path, {}, limit):
            if isinstance(raw, dict) and isinstance(raw.get("user"), dict):
                found.append((str(raw["user"].get("username") or ""), str(raw.get("name") or "")))
        return found

    async def member_access_level(self, repo: str, username: str) -> int | None:
        """The user's access level on the project, inherited ones included (10 guest, 20 reporter, 30 developer,
        40 maintainer, 50 owner), or None when they are not a member."""
        if not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}", username or ""):
            raise IntegrationRejected(f"{username!r} is not a gitlab username", service=SERVICE)
        path = f"/projects/{_project(repo)}/members/all"
        async for raw in self._list(path, {"query": username}, 100):
            if isinstance(raw, dict) and str(raw.get("username") or "").casefold() == username.casefold():
                level = raw.get("access_level")
                return int(level) if isinstance(level, int) else None
        return None

    def _merge_request_path(self, repo: str, number: int) -> str:
        return f"/projects/{_project(repo)}/merge_requests/{int(number)}"

    def _mr_url(self, repo: str, number: int) -> str:
        return f"{self._web}/{repo}/-/merge_requests/{int(number)}"

    # --- search, commits, tags -------------------------------------------------------------------------------

    async def search_code(self, query: str, *, repo: str | None = None, limit: int = 20) -> list[CodeHit]:
        """Blobs matching `query` in one project, or across the instance (GitLab needs advanced search for
        that: without it the instance rejects the call)."""
        if not query.strip():
            raise IntegrationRejected("an empty code search query", service=SERVICE)
        path = f"/projects/{_project(repo)}/search" if repo else "/search"
        known: dict[int, str] = {}
        hits: list[CodeHit] = []
        async for blob in self._list(path, {"scope": "blobs", "search": query}, limit):
            blob = shapes.obj(blob, "a code search result")
            project = repo or await self._project_path(blob.get("project_id"), known)
            hits.append(shapes.blob_hit(blob, project, self._web))
        return hits

    async def _project_path(self, project_id: Any, known: dict[int, str]) -> str:
        if not isinstance(project_id, int):
            raise IntegrationUnavailable("gitlab answered a code search result without a project", service=SERVICE)
        if project_id not in known:
            body = shapes.obj(await self._http.get_json(f"/projects/{project_id}", conditional=True), "a project")
            known[project_id] = str(body.get("path_with_namespace") or project_id)
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
        query = {name: value for name, value in params.items() if value}
        items = self._list(f"/projects/{_project(repo)}/repository/commits", query, limit)
        return [shapes.commit(repo, commit, self._web) async for commit in items]

    async def compare(self, repo: str, base: str, head: str, *, limit: int = 250, max_files: int = 300) -> Comparison:
        """What `head` adds since its merge base with `base`: its commits, oldest first (the oldest `limit`),
        and the files it changes. `status` is "identical" when it adds nothing, else unknown (GitLab does not
        say whether `base` moved on too)."""
        raw = await self._http.get_json(
            f"/projects/{_project(repo)}/repository/compare",
            params={"from": base, "to": head, "straight": "false"},
            conditional=True,
        )
        body = shapes.obj(raw, "a comparison")
        commits = [c for c in body.get("commits") or [] if isinstance(c, dict)]
        with shapes.shape("a comparison"):
            return Comparison(
                base=base,
                head=head,
                status="identical" if body.get("compare_same_ref") or not commits else None,
                ahead_by=len(commits),
                commits=[shapes.commit(repo, commit, self._web) for commit in commits[: max(0, limit)]],
                files=[shapes.changed_file(change) for change in (body.get("diffs") or [])[: max(0, max_files)]],
                url=body.get("web_url") or f"{self._web}/{repo}/-/compare/{quote(base)}...{quote(head)}",
            )

    async def list_tags(self, repo: str, *, limit: int = 100) -> list[Tag]:
        """Most recently updated first."""
        params = {"order_by": "updated", "sort": "desc"}
        items = self._list(f"/projects/{_project(repo)}/repository/tags", params, limit)
        return [shapes.tag(repo, tag, self._web) async for tag in items]

    async def create_release(self, repo: str, tag: str, *, name: str, description: str, ref: str | None = None) -> str:
        """Publish a release for `tag` (created at `ref` when the tag is new); the release's page URL."""
        _check_body(description)
        payload: dict[str, Any] = {"tag_name": tag, "name": name[:200], "description": description}
        if ref:
            payload["ref"] = ref
        release = _json_of(await self._http.request("POST", f"/projects/{_project(repo)}/releases", json_body=payload))
        links = release.get("_links") if isinstance(release.get("_links"), dict) else {}
        return str(links.get("self") or f"{self._web}/{repo}/-/releases/{quote(tag, safe='')}")

    async def create_branch(self, repo: str, branch: str, ref: str) -> None:
        params = {"branch": branch, "ref": ref}
        await self._http.request("POST", f"/projects/{_project(repo)}/repository/branches", params=params)

    async def put_file(self, repo: str, path: str, text: str, *, branch: str, message: str) -> None:
        """Create or replace a file on `branch` with one commit."""
        where = f"/projects/{_project(repo)}/repository/files/{quote(path.strip('/'), safe='')}"
        existing = await self._http.request("GET", where, params={"ref": branch}, ok=(404,))
        payload = {"branch": branch, "content": text, "commit_message": message}
        await self._http.request("PUT" if existing.status_code == 200 else "POST", where, json_body=payload)

    async def create_merge_request(self, repo: str, *, source: str, target: str, title: str, body: str) -> PullRequest:
        payload = {"source_branch": source, "target_branch": target, "title": title[:250], "description": body}
        path = f"/projects/{_project(repo)}/merge_requests"
        raw = _json_of(await self._http.request("POST", path, json_body=payload))
        with shapes.shape("a merge request"):
            return shapes.merge_request(repo, raw, self._web)

    # --- paging ----------------------------------------------------------------------------------------------

    async def list_repositories(
        self, *, group: str | None = None, topic: str | None = None, languages: bool = False, limit: int = MAX_LIST
    ) -> AsyncIterator[ScmRepository]:
        """A group's projects (with its subgroups'), or those with a topic; `languages`: read each one's main
        language (one more call per project)."""
        async for raw in gitlab_listing(self._http, group=group, topic=topic, limit=limit, next_url=_next_page):
            language = None
            if languages and raw.get("id") is not None:
                language = gitlab_main_language(await self._http.get_json(f"/projects/{int(raw['id'])}/languages"))
            yield gitlab_repository(raw, language)

    async def get_repository(self, repo: str, *, languages: bool = False) -> ScmRepository:
        path = f"/projects/{_project(repo)}"
        raw = shapes.obj(await self._http.get_json(path, params={"statistics": "true"}), "a project")
        language = gitlab_main_language(await self._http.get_json(path + "/languages")) if languages else None
        return gitlab_repository(raw, language)

    async def branch_head(self, repo: str, branch: str) -> str:
        """The SHA a branch points at."""
        body = shapes.obj(
            await self._http.get_json(f"/projects/{_project(repo)}/repository/branches/{quote(branch, safe='')}"),
            "a branch",
        )
        with shapes.shape("a branch"):
            return str(body["commit"]["id"])

    def _list(self, path: str, params: Mapping[str, Any], limit: int, *, cap: int = MAX_LIST) -> AsyncIterator[Any]:
        limit = max(0, min(int(limit), cap))
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


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _note_id(note_id: str) -> str:
    if not str(note_id).isdigit():
        raise IntegrationRejected(f"{note_id!r} is not a gitlab note id", service=SERVICE)
    return str(note_id)


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
