"""GitHub REST API v3: the ScmClient for github.com, GitHub Enterprise Cloud and GitHub Enterprise Server.

Where the API lives is read from the connection's base URL (app.integrations.github_api.api_root):
`https://api.github.com`, the cloud default, as it is; any host other than GitHub's own is a GitHub Enterprise
Server whose API is under `/api/v3`. Every call sends `Accept: application/vnd.github+json` and pins
`X-GitHub-Api-Version: 2022-11-28`.

Credentials: a personal access token ("token", sent as a Bearer token) or a GitHub App ("app_id" +
"private_key", options["installation_id"] or the App's only installation; see app.integrations.github_app).

Lists follow `Link: rel="next"` at up to 100 a page; a list's first page, files, pull requests and issues are
conditional GETs (ETag in Redis: an unchanged answer is a 304, which GitHub does not count against the limit).
Rate limits as GitHub documents them (github_api.rate_pause) pause the whole connection, for every worker. That
is coarse for the search budget (30 a minute): a spent one also holds the connection's other calls, for at most
the minute until its reset.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected, IntegrationUnavailable
from app.integrations import github_shapes as shapes
from app.integrations.connection import ConnectionInfo
from app.integrations.github_api import (
    API_HEADERS,
    DIFF_MEDIA,
    RAW_MEDIA,
    REVIEW_EVENTS,
    SERVICE,
    SHA,
    TEXT_MATCH_MEDIA,
    api_root,
    check_body,
    check_bound,
    check_ref,
    check_repo,
    quote_path,
    quote_ref,
    rate_pause,
    refusal_detail,
    review_draft,
    timestamp,
    web_root,
)
from app.integrations.github_app import GitHubAppAuth
from app.integrations.github_discussions import Discussion, list_discussions
from app.integrations.github_graphql import GitHubGraphQL, ReviewThread
from app.integrations.repository_lists import ScmRepository, github_listing, github_repository
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
    PullRequestReview,
    ReviewComment,
    ReviewCommentDraft,
    Tag,
    TrackerIssue,
)

PER_PAGE = 100
MAX_LIST = 1_000  # items one call returns (and scans, when it filters what GitHub lists)
MAX_FILES = 3_000  # GitHub lists at most 3,000 files of a pull request
MAX_SEARCH = 100
MAX_TEXT_BYTES = 10_000_000
RAW_FILE_MAX_BYTES = 10_000_000  # files over 1 MB come only raw; larger than this we do not read at all
MAX_REVIEW_COMMENTS = 200
NUMBER_MAX = 10**9
RELEASE_BODY_MAX = 125_000  # GitHub refuses longer release notes
COMMENT_ID_MAX = 2**53  # GitHub's ids are JSON numbers
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


class GitHubClient:
    """ScmClient over GitHub's REST API v3, plus what the review and release-notes workflows need."""

    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        self.api_url = api_root(connection.base_url)
        self.web_url = web_root(self.api_url)
        self._app: GitHubAppAuth | None = None
        if connection.credential("app_id") and connection.credential("private_key"):
            self._app = GitHubAppAuth(connection, runtime, self.api_url, headers=API_HEADERS, rate_policy=rate_pause)
            auth, on_refused = self._app.installation_headers, self._app.forget_token
        elif connection.credential("token"):
            bearer = {"Authorization": f"Bearer {connection.credential('token')}"}
            auth, on_refused = static_headers(API_HEADERS | bearer), None
        else:
            raise IntegrationAuthFailed("github connection has neither a token nor App credentials", service=SERVICE)
        self._http = runtime.http(
            connection,
            auth=auth,
            base_url=self.api_url,
            rate_policy=rate_pause,
            conditional_gets=True,
            on_refused=on_refused,
        )
        self._graphql = GitHubGraphQL(self._http, self.api_url)

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._app is not None:
            await self._app.aclose()

    # --- identity ---------------------------------------------------------------------------------------------

    async def identity(self) -> Identity:
        if self._app is None:
            response = await self._http.request("GET", "/user")
            with shapes.shape("the user"):
                user = response.json()
                login, name = user["login"], user.get("name")
            header = response.headers.get("x-oauth-scopes")
            if header is None:
                return Identity(
                    login=login,
                    name=name,
                    detail="fine-grained personal access token: GitHub reports no scopes for it; "
                    "its repository permissions are set on the token",
                )
            scopes = [scope.strip() for scope in header.split(",") if scope.strip()]
            detail = "classic personal access token" + ("" if scopes else " without scopes")
            return Identity(login=login, name=name, scopes=scopes, detail=detail)
        app = await self._app.http.get_json("/app")
        token = await self._app.token()
        installation = await self._app.installation_id()
        account = await self._app.http.get_json(f"/app/installations/{installation}")
        with shapes.shape("the App"):
            slug = app["slug"]
            owner = (account.get("account") or {}).get("login") or "an unknown account"
            return Identity(
                login=f"{slug}[bot]",
                name=app.get("name"),
                scopes=sorted(f"{name}:{level}" for name, level in token.permissions.items()),
                detail=f"GitHub App {slug} installation {installation} on {owner}",
            )

    # --- ScmClient --------------------------------------------------------------------------------------------

    async def get_file(self, repo: str, path: str, *, ref: str | None = None, max_bytes: int = 200_000) -> FileContent:
        repo, where = check_repo(repo), quote_path(path)
        check_bound(max_bytes, MAX_TEXT_BYTES, "max_bytes")
        params = {"ref": check_ref(ref)} if ref else None
        body = await self._http.get_json(f"/repos/{repo}/contents/{where}", params=params, conditional=True)
        if isinstance(body, list):
            raise IntegrationRejected(f"github: {path} in {repo} is a directory, not a file", service=SERVICE)
        with shapes.shape("a file"):
            kind, size, encoding = body.get("type"), int(body.get("size") or 0), body.get("encoding")
            if kind != "file":
                raise IntegrationRejected(f"github: {path} in {repo} is a {kind}, not a file", service=SERVICE)
            if encoding == "base64":
                data = base64.b64decode(body.get("content") or "")
            elif size:
                data = await self._raw_file(f"/repos/{repo}/contents/{where}", params, size=size, max_bytes=max_bytes)
            else:
                data = b""
            if b"\0" in data[:8192]:
                raise IntegrationRejected(f"github: {path} in {repo} is a binary file", service=SERVICE)
            text, truncated = file_text(data, max_bytes)
            return FileContent(
                repo=repo,
                path=body.get("path") or path,
                ref=ref,
                text=text,
                size=size,
                truncated=truncated or len(data) < size,
                url=body.get("html_url") or f"{self.web_url}/{repo}/blob/{quote(ref or 'HEAD')}/{where}",
            )

    async def list_pull_requests(
        self, repo: str, *, state: PullRequestState = "open", limit: int = 30
    ) -> list[PullRequest]:
        repo = check_repo(repo)
        check_bound(limit, MAX_LIST, "limit")
        if state not in ("open", "closed", "merged", "all"):
            raise IntegrationRejected(f"github: unknown pull request state {state!r}", service=SERVICE)
        # GitHub knows open and closed; merged ones are the closed ones with a merge time.
        params = {"state": "closed" if state == "merged" else state, "sort": "created", "direction": "desc"}
        wanted: Callable[[PullRequest], bool] = {
            "merged": lambda pr: pr.state == "merged",
            "closed": lambda pr: pr.state == "closed",
        }.get(state, lambda pr: True)
        scan = limit if state in ("open", "all") else MAX_LIST
        found: list[PullRequest] = []
        async with aclosing(self._pages(f"/repos/{repo}/pulls", params, scan=scan)) as pages:
            async for raw in pages:
                pull = shapes.pull_request(repo, raw)
                if wanted(pull):
                    found.append(pull)
                    if len(found) >= limit:
                        break
        return found

    async def get_pull_request(self, repo: str, number: int, *, max_files: int = 300) -> PullRequest:
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        check_bound(max_files, MAX_FILES, "max_files")
        raw = await self._http.get_json(f"/repos/{repo}/pulls/{number}", conditional=True)
        pull = shapes.pull_request(repo, raw)
        files = [
            shapes.pull_request_file(f)
            async for f in self._pages(f"/repos/{repo}/pulls/{number}/files", {}, scan=max_files)
        ]
        return pull.model_copy(update={"files": files})

    async def get_pull_request_diff(self, repo: str, number: int, *, max_bytes: int = 500_000) -> str:
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        check_bound(max_bytes, MAX_TEXT_BYTES, "max_bytes")
        response = await self._http.request(
            "GET", f"/repos/{repo}/pulls/{number}", headers={"Accept": DIFF_MEDIA}, ok=(406,)
        )
        if response.status_code == 406:  # GitHub will not render diffs past its own size limits
            raise IntegrationRejected(
                f"github would not produce the diff of {repo}#{number} ({refusal_detail(response)}); "
                "read its files instead",
                service=SERVICE,
            )
        return cut_diff(response.content.decode("utf-8", errors="replace"), max_bytes)

    async def search_code(self, query: str, *, repo: str | None = None, limit: int = 20) -> list[CodeHit]:
        """Code search. Without `repo` the query's own qualifiers (`org:`, `user:`) scope it; without those
        GitHub searches every repository the credentials can read, public ones included."""
        query = query.strip()
        if not query or len(query) > 256:
            raise IntegrationRejected("github code search needs a query of 1 to 256 characters", service=SERVICE)
        check_bound(limit, MAX_SEARCH, "limit")
        q = f"{query} repo:{check_repo(repo)}" if repo else query
        response = await self._send(
            "GET", "/search/code", params={"q": q, "per_page": limit}, headers={"Accept": TEXT_MATCH_MEDIA}
        )
        with shapes.shape("code search results"):
            items = response.json()["items"]
        return [shapes.code_hit(item) for item in items[:limit]]

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
        repo = check_repo(repo)
        check_bound(limit, MAX_LIST, "limit")
        params: dict[str, Any] = {}
        if ref:
            params["sha"] = check_ref(ref)
        if path:
            quote_path(path)
            params["path"] = path.strip("/")
        if since:
            params["since"] = timestamp(since)
        if until:
            params["until"] = timestamp(until)
        return [shapes.commit(raw) async for raw in self._pages(f"/repos/{repo}/commits", params, scan=limit)]

    async def comment_on_pull_request(self, repo: str, number: int, body: str) -> str:
        comment = await self.create_issue_comment(repo, number, body)
        return comment.url or ""

    # --- for the workflows (release notes, review, docs feedback) ----------------------------------------------

    async def list_tags(self, repo: str, *, limit: int = 100) -> list[Tag]:
        """Tags as GitHub lists them (newest names first)."""
        repo = check_repo(repo)
        check_bound(limit, MAX_LIST, "limit")
        return [
            shapes.tag(raw, f"{self.web_url}/{repo}/releases/tag/{quote(str(raw.get('name', '')))}")
            async for raw in self._pages(f"/repos/{repo}/tags", {}, scan=limit)
        ]

    async def compare(self, repo: str, base: str, head: str, *, limit: int = 250, max_files: int = 300) -> Comparison:
        """What `head` adds to `base` (tags, branches or SHAs): its commits, oldest first, and changed files."""
        repo = check_repo(repo)
        check_bound(limit, MAX_LIST, "limit")
        check_bound(max_files, MAX_FILES, "max_files")
        path = f"/repos/{repo}/compare/{quote_ref(base)}...{quote_ref(head)}"
        params = {"per_page": min(PER_PAGE, limit)}
        body = await self._http.get_json(path, params=params, conditional=True)
        with shapes.shape("a comparison"):
            commits = list(body.get("commits") or [])[:limit]
            wanted = min(limit, int(body.get("total_commits") or 0))
            if len(commits) < wanted:  # GitHub lists the files on the first page only
                async for raw in self._http.paginate(
                    path, params=params | {"page": 2}, limit=wanted - len(commits), items=_commits_of
                ):
                    commits.append(raw)
            return Comparison(
                base=base,
                head=head,
                status=body.get("status"),
                ahead_by=body.get("ahead_by") or 0,
                behind_by=body.get("behind_by") or 0,
                commits=[shapes.commit(raw) for raw in commits],
                files=[shapes.pull_request_file(f) for f in (body.get("files") or [])[:max_files]],
                url=body.get("html_url") or f"{self.web_url}/{repo}/compare/{base}...{head}",
            )

    async def create_release(self, repo: str, tag: str, *, name: str, body: str, draft: bool = False) -> str:
        """Publish a release for `tag` (GitHub creates the tag at the default branch if it is new); its page URL."""
        repo = check_repo(repo)
        if not body.strip() or len(body) > RELEASE_BODY_MAX:
            raise IntegrationRejected(f"github release notes are 1 to {RELEASE_BODY_MAX} characters", service=SERVICE)
        payload = {"tag_name": check_ref(tag), "name": name[:200], "body": body, "draft": draft}
        response = await self._send("POST", f"/repos/{repo}/releases", json_body=payload)
        with shapes.shape("a release"):
            return str(response.json()["html_url"])

    async def branch_head(self, repo: str, branch: str) -> str:
        """The SHA a branch points at."""
        repo = check_repo(repo)
        body = await self._http.get_json(f"/repos/{repo}/git/ref/heads/{quote_ref(branch)}")
        with shapes.shape("a ref"):
            return str(body["object"]["sha"])

    async def list_repositories(
        self, *, org: str | None = None, topic: str | None = None, limit: int = MAX_LIST
    ) -> AsyncIterator[ScmRepository]:
        """An organisation's repositories, or those with a topic (within `org` when given)."""
        async for repo in github_listing(self._http, org=org, topic=topic, limit=limit):
            yield repo

    async def get_repository(self, repo: str) -> ScmRepository:
        return github_repository(await self._http.get_json(f"/repos/{check_repo(repo)}"))

    async def create_branch(self, repo: str, branch: str, sha: str) -> None:
        repo = check_repo(repo)
        if not SHA.match(sha):
            raise IntegrationRejected("github: a branch starts at a full commit SHA", service=SERVICE)
        payload = {"ref": f"refs/heads/{check_ref(branch)}", "sha": sha}
        await self._send("POST", f"/repos/{repo}/git/refs", json_body=payload)

    async def put_file(self, repo: str, path: str, text: str, *, branch: str, message: str) -> str:
        """Create or replace a file on `branch` with one commit; the commit's SHA."""
        repo = check_repo(repo)
        where = f"/repos/{repo}/contents/{quote_path(path)}"
        existing = await self._http.request("GET", where, params={"ref": check_ref(branch)}, ok=(404,))
        payload: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(text.encode()).decode(),
            "branch": branch,
        }
        if existing.status_code == 200:
            with shapes.shape("a file"):
                payload["sha"] = str(existing.json()["sha"])
        response = await self._send("PUT", where, json_body=payload)
        with shapes.shape("a file commit"):
            return str(response.json()["commit"]["sha"])

    async def create_pull_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> PullRequest:
        repo = check_repo(repo)
        check_body(body, required=False)
        payload = {"title": title[:250], "head": check_ref(head), "base": check_ref(base), "body": body}
        response = await self._send("POST", f"/repos/{repo}/pulls", json_body=payload)
        with shapes.shape("a pull request"):
            return shapes.pull_request(repo, response.json())

    async def get_issue(self, repo: str, number: int, *, max_comments: int = 50) -> TrackerIssue:
        """An issue (GitHub answers for a pull request's number too: it is an issue with code) and its oldest
        `max_comments` comments."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "issue number")
        check_bound(max_comments, MAX_LIST, "max_comments", minimum=0)
        raw = await self._http.get_json(f"/repos/{repo}/issues/{number}", conditional=True)
        comments = []
        if max_comments and isinstance(raw, dict) and raw.get("comments"):
            comments = [
                shapes.issue_comment(c)
                async for c in self._pages(f"/repos/{repo}/issues/{number}/comments", {}, scan=max_comments)
            ]
        return shapes.issue(repo, raw, comments)

    async def list_issues(
        self,
        repo: str,
        *,
        labels: Sequence[str] = (),
        since: datetime | None = None,
        state: Literal["open", "closed", "all"] = "open",
        limit: int = 30,
    ) -> list[TrackerIssue]:
        """Issues (pull requests left out), newest first; `labels` must all be present; `since` = updated since."""
        repo = check_repo(repo)
        check_bound(limit, MAX_LIST, "limit")
        if state not in ("open", "closed", "all"):
            raise IntegrationRejected(f"github: unknown issue state {state!r}", service=SERVICE)
        if any(not label.strip() or "," in label or len(label) > 100 for label in labels):
            raise IntegrationRejected("github labels are 1 to 100 characters without commas", service=SERVICE)
        params: dict[str, Any] = {"state": state, "sort": "created", "direction": "desc"}
        if labels:
            params["labels"] = ",".join(labels)
        if since:
            params["since"] = timestamp(since)
        found: list[TrackerIssue] = []
        async with aclosing(self._pages(f"/repos/{repo}/issues", params, scan=MAX_LIST)) as pages:
            async for raw in pages:
                if isinstance(raw, dict) and "pull_request" not in raw:  # GitHub lists pull requests as issues
                    found.append(shapes.issue(repo, raw, []))
                    if len(found) >= limit:
                        break
        return found

    async def create_review(
        self,
        repo: str,
        number: int,
        *,
        commit_sha: str,
        body: str,
        event: Literal["COMMENT", "APPROVE", "REQUEST_CHANGES"],
        comments: Sequence[ReviewCommentDraft | dict[str, Any]] = (),
    ) -> PullRequestReview:
        """Submit a review of the pull request at `commit_sha`, with comments on lines of its diff."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        if event not in REVIEW_EVENTS:
            raise IntegrationRejected(f"github review event must be one of {', '.join(REVIEW_EVENTS)}", service=SERVICE)
        if not SHA.match(commit_sha or ""):
            raise IntegrationRejected("github review needs the full SHA of the commit it reviews", service=SERVICE)
        check_body(body, required=event != "APPROVE")  # GitHub requires a body to comment or request changes
        if len(comments) > MAX_REVIEW_COMMENTS:
            raise IntegrationRejected(f"github review: at most {MAX_REVIEW_COMMENTS} comments", service=SERVICE)
        drafts = [review_draft(index, comment) for index, comment in enumerate(comments, start=1)]
        payload = {
            "commit_id": commit_sha,
            "body": body,
            "event": event,
            "comments": [draft.model_dump(exclude_none=True) for draft in drafts],
        }
        response = await self._send("POST", f"/repos/{repo}/pulls/{number}/reviews", json_body=payload)
        with shapes.shape("a review"):
            return shapes.review(response.json())

    async def list_review_comments(self, repo: str, number: int, *, limit: int = 300) -> list[ReviewComment]:
        """Comments on lines of the pull request's diff, oldest first (replies carry `in_reply_to`)."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        check_bound(limit, MAX_LIST, "limit")
        return [
            shapes.review_comment(raw)
            async for raw in self._pages(f"/repos/{repo}/pulls/{number}/comments", {}, scan=limit)
        ]

    async def create_issue_comment(self, repo: str, number: int, body: str) -> PullRequestComment:
        """A top-level comment on the pull request (its issue), with the id to edit it by later."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        check_body(body, required=True)
        response = await self._send("POST", f"/repos/{repo}/issues/{number}/comments", json_body={"body": body})
        return shapes.pull_request_comment(response.json())

    async def update_issue_comment(self, repo: str, comment_id: int, body: str) -> PullRequestComment:
        """Replace the text of a top-level comment (GitHub shows it as edited, in place)."""
        repo = check_repo(repo)
        check_bound(comment_id, COMMENT_ID_MAX, "comment id")
        check_body(body, required=True)
        response = await self._send("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json_body={"body": body})
        return shapes.pull_request_comment(response.json())

    async def list_issue_comments(self, repo: str, number: int, *, limit: int = 300) -> list[PullRequestComment]:
        """The pull request's top-level comments, oldest first."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        check_bound(limit, MAX_LIST, "limit")
        return [
            shapes.pull_request_comment(raw)
            async for raw in self._pages(f"/repos/{repo}/issues/{number}/comments", {}, scan=limit)
        ]

    async def update_review_comment(self, repo: str, comment_id: int, body: str) -> ReviewComment:
        """Replace the text of a comment on a line. REST has no way to resolve its thread (only GraphQL's
        resolveReviewThread does), so the review workflow marks an outdated comment by editing it."""
        repo = check_repo(repo)
        check_bound(comment_id, COMMENT_ID_MAX, "comment id")
        check_body(body, required=True)
        response = await self._send("PATCH", f"/repos/{repo}/pulls/comments/{comment_id}", json_body={"body": body})
        with shapes.shape("a review comment"):
            return shapes.review_comment(response.json())

    async def review_threads(self, repo: str, number: int) -> dict[int, ReviewThread]:
        """The pull request's review threads (GraphQL), by the REST id of each thread's first comment."""
        return await self._graphql.review_threads(repo, number)

    async def discussions(self, repo: str, *, answered_only: bool = True, limit: int = 500) -> list[Discussion]:
        """The repository's GitHub Discussions with their chosen answers (GraphQL)."""
        return await list_discussions(self._graphql, repo, answered_only=answered_only, limit=limit)

    async def resolve_review_thread(self, thread_id: str) -> bool:
        """Resolve a review thread by its node id (GraphQL); whether it is resolved now."""
        return await self._graphql.resolve_review_thread(thread_id)

    async def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[str]:
        """Add labels to the pull request (GitHub creates those the repository lacks); returns all its labels."""
        repo = check_repo(repo)
        check_bound(number, NUMBER_MAX, "pull request number")
        if not labels or len(labels) > 100 or any(not label.strip() or len(label) > 50 for label in labels):
            raise IntegrationRejected("github labels are 1 to 50 characters, at most 100 at once", service=SERVICE)
        payload = {"labels": list(labels)}
        response = await self._send("POST", f"/repos/{repo}/issues/{number}/labels", json_body=payload)
        with shapes.shape("labels"):
            return [str(label["name"]) for label in response.json()]

    async def review_comment_reactions(self, repo: str, comment_id: int, *, limit: int = 100) -> list[tuple[str, str]]:
        """(login, content) of each reaction on a comment on a line: content is `+1`, `-1`, `laugh`, `heart`, ..."""
        repo = check_repo(repo)
        check_bound(comment_id, COMMENT_ID_MAX, "comment id")
        check_bound(limit, MAX_LIST, "limit")
        found: list[tuple[str, str]] = []
        async for raw in self._pages(f"/repos/{repo}/pulls/comments/{comment_id}/reactions", {}, scan=limit):
            if isinstance(raw, dict) and isinstance(raw.get("user"), dict):
                found.append((str(raw["user"].get("login") or ""), str(raw.get("content") or "")))
        return found

    async def collaborator_permission(self, repo: str, login: str) -> str | None:
        """The user's role on the repository (`admin`, `maintain`, `write`, `triage`, `read`; a custom role's
        name), or None when GitHub knows no such user there."""
        repo = check_repo(repo)
        if not LOGIN.match(login or ""):
            raise IntegrationRejected(f"{login!r} is not a github login", service=SERVICE)
        try:
            body = await self._http.get_json(f"/repos/{repo}/collaborators/{login}/permission")
        except IntegrationNotFound:
            return None
        if not isinstance(body, dict):
            raise IntegrationUnavailable("github answered a permission with something not an object", service=SERVICE)
        role = body.get("role_name") or body.get("permission")
        return str(role) if role and role != "none" else None

    # --- internals --------------------------------------------------------------------------------------------

    async def _pages(self, path: str, params: dict[str, Any], *, scan: int) -> AsyncIterator[Any]:
        """At most `scan` items of a list: its first page by a conditional GET (most lists are read again
        unchanged), the rest following the Link header from page 2."""
        per_page = min(PER_PAGE, scan)
        query = params | {"per_page": per_page}
        first = await self._http.get_json(path, params=query, conditional=True)
        if not isinstance(first, list):
            raise IntegrationUnavailable(
                f"github answered {path.rsplit('/', 1)[-1]} with something not a list", service=SERVICE
            )
        for item in first[:scan]:
            yield item
        if len(first) < per_page or scan <= per_page:
            return
        async for item in self._http.paginate(path, params=query | {"page": 2}, limit=scan - len(first)):
            yield item

    async def _raw_file(self, path: str, params: dict[str, str] | None, *, size: int, max_bytes: int) -> bytes:
        """A file too large for the JSON contents answer (over 1 MB): its first bytes, raw."""
        if size > RAW_FILE_MAX_BYTES:
            raise IntegrationRejected(
                f"github: the file is {size} bytes; files over {RAW_FILE_MAX_BYTES} bytes are not read", service=SERVICE
            )
        response = await self._http.request(
            "GET", path, params=params, headers={"Accept": RAW_MEDIA, "Range": f"bytes=0-{max_bytes}"}
        )
        return response.content[: max_bytes + 1]

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A call whose 422 says why in `errors` (GitHub's `message` alone is "Validation Failed")."""
        response = await self._http.request(
            method, path, params=params, json_body=json_body, headers=headers, ok=(422,)
        )
        if response.status_code == 422:
            raise IntegrationRejected(f"github rejected the request ({refusal_detail(response)})", service=SERVICE)
        return response


def _commits_of(body: Any) -> list[Any]:
    return list(body.get("commits") or []) if isinstance(body, dict) else []
