"""A loopback Bitbucket Cloud speaking REST 2.0 as api.bitbucket.org does: Bearer (access token) or Basic
(username + app password) authentication, errors as `{"type": "error", "error": {"message": ...}}`, paged
lists `{"pagelen", "size", "page", "values", "next"}` with `next` an absolute URL, `X-OAuth-Scopes` and the
access-token `X-RateLimit-*` headers, a pull request's `diff` and `diffstat` answered with a 302 to the
repository-level endpoint, raw `src` files (a directory answers with its JSON listing), workspace code
search results with match segments, commits walked from a revision with `exclude` and `path`, tags, and a
workspace's repositories narrowed by a BBQL `q` (AND of clauses, each one comparison or a parenthesised OR,
on `language`, `updated_on`, `full_name`), with https clone links that name the caller as Bitbucket's do.

Tests fill `repositories` (see `add_repository` and the `pull_request` / `commit` builders) and read
`requests` / `seen()` to check what the client sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

TOKEN = "ATCTT3xFfGN0-fake-access-token"
USERNAME = "ada"
APP_PASSWORD = "ATBB-fake-app-password-123"
API = "/2.0"
REPO = API + "/repositories/(?P<workspace>[^/]+)/(?P<slug>[^/]+)"
PR = REPO + "/pullrequests/(?P<id>[0-9]+)"
PAGELEN_MAX = {"pullrequests": 50}
DEFAULT_PAGELEN = 10


def error_body(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"message": message}}


@dataclass
class Repository:
    full_name: str
    mainbranch: str | None = "main"
    is_private: bool = True
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit hash -> path -> content
    refs: dict[str, str] = field(default_factory=dict)  # branch -> full commit hash
    tag_refs: dict[str, str] = field(default_factory=dict)  # tag -> full commit hash
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    diffstat: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    diffs: dict[int, str] = field(default_factory=dict)  # pull request id -> its unified diff
    spec_diffstat: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "source..destination" -> stat
    commits: list[dict[str, Any]] = field(default_factory=list)  # one line of history, newest first
    tags: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    spec_diffs: dict[str, str] = field(default_factory=dict)  # "source..destination" -> unified diff
    participants: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # pull request id -> reviews
    language: str = ""  # lower case, as Bitbucket names languages ("" when unset)
    size: int = 40_960  # bytes
    updated_on: str = "2024-06-01T12:00:00.000000+00:00"
    parent: str | None = None  # the full name of the repository this one is a fork of

    @property
    def workspace(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def slug(self) -> str:
        return self.full_name.split("/")[1]


def pull_request(
    repository: Repository,
    number: int,
    title: str,
    *,
    state: str = "OPEN",
    draft: bool = False,
    description: str = "",
    created_on: str = "2024-05-01T10:00:00.000000+00:00",
    source: str = "feature/retry",
    source_hash: str = "9f2c4a1b7e5d",
    destination_hash: str = "0a1b2c3d4e5f",
    author: str = "ada",
) -> dict[str, Any]:
    """A pull request as GET .../pullrequests/{id} returns it: commit hashes abbreviated to 12 characters."""
    html = f"https://bitbucket.org/{repository.full_name}/pull-requests/{number}"
    return {
        "type": "pullrequest",
        "id": number,
        "title": title,
        "description": description,
        "summary": {"type": "rendered", "raw": description, "markup": "markdown", "html": f"<p>{description}</p>"},
        "state": state,
        "draft": draft,
        "author": {
            "type": "user",
            "display_name": author.title(),
            "nickname": author,
            "account_id": f"557058:{author}",
        },
        "source": {
            "branch": {"name": source},
            "commit": {"type": "commit", "hash": source_hash},
            "repository": {"type": "repository", "full_name": repository.full_name},
        },
        "destination": {
            "branch": {"name": "main"},
            "commit": {"type": "commit", "hash": destination_hash},
            "repository": {"type": "repository", "full_name": repository.full_name},
        },
        "merge_commit": {"hash": "feedfacecafe"} if state == "MERGED" else None,
        "close_source_branch": True,
        "comment_count": 0,
        "task_count": 0,
        "created_on": created_on,
        "updated_on": created_on,
        "links": {"html": {"href": html}},
    }


def commit(
    repository: Repository,
    sha: str,
    message: str,
    date: str,
    *,
    parents: tuple[str, ...] = (),
    paths: tuple[str, ...] = (),
    author: str = "Ada Lovelace <ada@example.com>",
    nickname: str | None = "ada",
) -> dict[str, Any]:
    """A commit as GET .../commits/{revision} lists it; `_paths` (never sent) drives `path=`."""
    user = {"type": "user", "display_name": author.split(" <")[0], "nickname": nickname} if nickname else None
    return {
        "type": "commit",
        "hash": sha,
        "date": date,
        "message": message,
        "author": {"type": "author", "raw": author} | ({"user": user} if user else {}),
        "parents": [{"type": "commit", "hash": p} for p in parents],
        "links": {"html": {"href": f"https://bitbucket.org/{repository.full_name}/commits/{sha}"}},
        "_paths": list(paths),
    }


class FakeBitbucket(FakeService):
    def __init__(self, *, token: str = TOKEN, username: str = USERNAME, password: str = APP_PASSWORD) -> None:
        self.token = token
        self.username = username
        self.password = password
        self.user: dict[str, Any] = {
            "type": "user",
            "uuid": "{b4d2e8f1-3c5a-4e7b-9d1f-2a6c8e0b4d7f}",
            "username": "ada",
            "display_name": "Ada Lovelace",
            "nickname": "ada",
            "account_id": "557058:ada",
        }
        self.scopes = "pullrequest:write, repository"
        self.access_token_mode = False  # True: the Bearer token is a workspace/repository access token
        self.repositories: dict[str, Repository] = {}
        self.page_cap = 100  # serve at most this many per page, whatever pagelen asks
        self.redirect_base: str | None = None  # where diff redirects point; None: this fake
        self.clone_base: str | None = None  # where https clone links point (a tests.fakes.git_server); None: this fake
        self.not_modified = 0
        super().__init__()

    def add_repository(self, full_name: str, **values: Any) -> Repository:
        repository = Repository(full_name=full_name, **values)
        self.repositories[full_name] = repository
        return repository

    # --- routes ----------------------------------------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", API + "/user", self._user)
        self.route("GET", API + "/repositories/(?P<workspace>[^/]+)", self._workspace_repositories)
        self.route("GET", REPO, self._repository)
        self.route("GET", REPO + "/src/(?P<rev>[^/]+)/(?P<path>.+)", self._src)
        self.route("GET", REPO + "/refs/branches/(?P<name>.+)", lambda r: self._ref(r, "branch"))
        self.route("GET", REPO + "/refs/tags", self._tags)
        self.route("GET", REPO + "/refs/tags/(?P<name>.+)", lambda r: self._ref(r, "tag"))
        self.route("GET", REPO + "/pullrequests", self._pull_requests)
        self.route("GET", PR, self._pull_request)
        self.route("GET", PR + "/diff", lambda r: self._redirect_to(r, "diff"))
        self.route("GET", PR + "/diffstat", lambda r: self._redirect_to(r, "diffstat"))
        self.route("GET", REPO + "/diff/(?P<spec>.+)", self._diff)  # spec: {workspace}/{slug}:{hash}%0D{hash}
        self.route("GET", REPO + "/diffstat/(?P<spec>.+)", self._diffstat)
        self.route("POST", PR + "/comments", self._add_comment)
        self.route("GET", PR + "/comments", self._list_comments)
        self.route("PUT", PR + "/comments/(?P<comment>[0-9]+)", self._update_comment)
        self.route("POST", PR + "/comments/(?P<comment>[0-9]+)/resolve", self._resolve_comment)
        self.route("POST", PR + "/approve", lambda r: self._participate(r, "approved"))
        self.route("POST", PR + "/request-changes", lambda r: self._participate(r, "changes_requested"))
        self.route("GET", API + "/workspaces/(?P<workspace>[^/]+)/search/code", self._search)
        self.route("GET", REPO + "/commits/(?P<rev>[^/]+)", self._commits)

    def before(self, request: FakeRequest) -> Answer | None:
        sent = request.headers.get("authorization", "")
        basic = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if sent in (f"Bearer {self.token}", basic):
            return None
        return 401, error_body("Token is invalid, expired, or not supported for this endpoint."), {}

    def unmatched(self, request: FakeRequest) -> Answer:
        return self._reply(request, 404, error_body("Resource not found"))

    def _user(self, request: FakeRequest) -> Answer:
        if self.access_token_mode and request.headers.get("authorization", "").startswith("Bearer "):
            return self._reply(request, 403, error_body("This API is not accessible by this authentication mechanism"))
        return self._reply(request, 200, self.user)

    def repository_json(self, r: Repository) -> dict[str, Any]:
        """A repository as GET /repositories/{workspace}/{slug} and the workspace list answer it."""
        clone = f"{self.clone_base or self.url}/{r.full_name}.git"
        scheme, _, host = clone.partition("://")
        body: dict[str, Any] = {
            "type": "repository",
            "uuid": "{" + hashlib.sha256(r.full_name.encode()).hexdigest()[:32] + "}",
            "full_name": r.full_name,
            "name": r.slug,
            "slug": r.slug,
            "scm": "git",
            "is_private": r.is_private,
            "language": r.language,
            "size": r.size,
            "created_on": "2023-01-01T00:00:00.000000+00:00",
            "updated_on": r.updated_on,
            "fork_policy": "allow_forks",
            "mainbranch": {"type": "branch", "name": r.mainbranch} if r.mainbranch else None,
            "workspace": {"type": "workspace", "slug": r.workspace},
            "links": {
                "html": {"href": f"https://bitbucket.org/{r.full_name}"},
                "clone": [
                    {"name": "https", "href": f"{scheme}://{self.username}@{host}"},
                    {"name": "ssh", "href": f"git@bitbucket.org:{r.full_name}.git"},
                ],
            },
        }
        if r.parent is not None:
            body["parent"] = {"type": "repository", "full_name": r.parent, "name": r.parent.split("/")[-1]}
        return body

    def _workspace_repositories(self, request: FakeRequest) -> Answer:
        workspace = request.match["workspace"]
        chosen = [r for _, r in sorted(self.repositories.items()) if r.workspace == workspace]
        query = request.param("q")
        if query:
            try:
                chosen = [r for r in chosen if bbql_matches(query, self.repository_json(r))]
            except ValueError as refused:
                return self._reply(request, 400, error_body(str(refused)))
        return self._page(request, [self.repository_json(r) for r in chosen])

    def _repository(self, request: FakeRequest) -> Answer:
        repository = self._find(request)
        if repository is None:
            return self._reply(request, 404, error_body(f"Repository {request.match['slug']} not found"))
        body = self.repository_json(repository)
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1
            return 304, None, {"ETag": etag}
        return self._reply(request, 200, body, {"ETag": etag})

    def _src(self, request: FakeRequest) -> Answer:
        repository = self._find(request)
        if repository is None:
            return self._reply(request, 404, error_body("Repository not found"))
        sha = self._resolve(repository, unquote(request.match["rev"]))
        files = repository.files.get(sha or "", {})
        path = unquote(request.match["path"]).rstrip("/")
        if path in files:
            kind = "application/json" if path.endswith(".json") else "text/plain"
            return self._reply(request, 200, files[path], {"Content-Type": kind})
        entries = sorted({p[len(path) + 1 :].split("/")[0] for p in files if p.startswith(path + "/")})
        if not entries:
            return self._reply(request, 404, error_body(f"No such file or directory: {path}"))
        listing = [
            {
                "path": f"{path}/{name}",
                "type": "commit_file" if f"{path}/{name}" in files else "commit_directory",
                "commit": {"type": "commit", "hash": sha},
            }
            for name in entries
        ]
        return self._page(request, listing)

    def _ref(self, request: FakeRequest, kind: str) -> Answer:
        repository = self._find(request)
        names = (repository.refs if kind == "branch" else repository.tag_refs) if repository else {}
        name = unquote(request.match["name"])
        if name not in names:
            return self._reply(request, 404, error_body(f"{kind} {name} not found"))
        return self._reply(
            request, 200, {"type": kind, "name": name, "target": {"type": "commit", "hash": names[name]}}
        )

    def _tags(self, request: FakeRequest) -> Answer:
        repository = self._find(request)
        if repository is None:
            return self._reply(request, 404, error_body("Repository not found"))
        return self._page(request, repository.tags)

    def _pull_requests(self, request: FakeRequest) -> Answer:
        repository = self._find(request)
        if repository is None:
            return self._reply(request, 404, error_body("Repository not found"))
        states = request.query.get("state") or ["OPEN"]
        if any(s not in ("OPEN", "MERGED", "DECLINED", "SUPERSEDED") for s in states):
            return self._reply(request, 400, error_body("Invalid state"))
        chosen = [pr for pr in repository.pull_requests if pr["state"] in states]
        sort = request.param("sort")
        if sort in ("created_on", "-created_on"):
            chosen.sort(key=lambda pr: pr["created_on"], reverse=sort.startswith("-"))
        return self._page(request, chosen, kind="pullrequests")

    def _pull_request(self, request: FakeRequest) -> Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        return self._reply(request, 200, found[1])

    def _redirect_to(self, request: FakeRequest, kind: str) -> Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        repository, pr = found
        name = repository.full_name
        spec = f"{name}:{pr['source']['commit']['hash']}%0D{pr['destination']['commit']['hash']}"
        location = (
            f"{self.redirect_base or self.url}{API}/repositories/{name}/{kind}/{spec}"
            f"?from_pullrequest_id={pr['id']}&topic=true"
        )
        return 302, b"", {"Location": location, "Content-Type": "text/html; charset=utf-8"}

    def _diff(self, request: FakeRequest) -> Answer:
        if request.param("from_pullrequest_id") is None:
            repository = self._find(request)
            spec = unquote(request.match["spec"])
            if repository is None or spec not in repository.spec_diffs:
                return self._reply(request, 404, error_body(f"Commit not found: {spec}"))
            return self._reply(request, 200, repository.spec_diffs[spec].encode(), {"Content-Type": "text/plain"})
        found = self._from_pull_request(request)
        if found is None:
            return self._reply(request, 404, error_body("Diff not found"))
        repository, number = found
        return self._reply(request, 200, repository.diffs.get(number, "").encode(), {"Content-Type": "text/plain"})

    def _diffstat(self, request: FakeRequest) -> Answer:
        if request.param("from_pullrequest_id") is None:
            repository = self._find(request)
            spec = unquote(request.match["spec"])
            if repository is None or spec not in repository.spec_diffstat:
                return self._reply(request, 404, error_body(f"Commit not found: {spec}"))
            return self._page(request, repository.spec_diffstat[spec])
        found = self._from_pull_request(request)
        if found is None:
            return self._reply(request, 404, error_body("Diff not found"))
        repository, number = found
        return self._page(request, repository.diffstat.get(number, []))

    def _add_comment(self, request: FakeRequest) -> Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        repository, pr = found
        sent = request.json() or {}
        raw = (sent.get("content") or {}).get("raw")
        if not raw:
            return self._reply(request, 400, error_body("content.raw: This field is required."))
        inline = sent.get("inline")
        if inline is not None:
            paths = {(e.get("new") or {}).get("path") for e in repository.diffstat.get(pr["id"], [])}
            if inline.get("path") not in paths or not isinstance(inline.get("to"), int):
                return self._reply(request, 400, error_body("inline: the path is not part of this pull request"))
        comments = repository.comments.setdefault(pr["id"], [])
        comment_id = 700 + len(comments)
        comment = {
            "id": comment_id,
            "type": "pullrequest_comment",
            "created_on": "2024-05-02T10:00:00.000000+00:00",
            "content": {"raw": raw, "markup": "markdown", "html": f"<p>{raw}</p>"},
            "user": self._author(),
            "deleted": False,
            "pending": False,
            "links": {"html": {"href": f"{pr['links']['html']['href']}#comment-{comment_id}"}},
        } | ({"inline": inline | {"from": None}} if inline else {})
        comments.append(comment)
        return self._reply(request, 201, comment)

    def _author(self) -> dict[str, Any]:
        return {k: self.user[k] for k in ("type", "display_name", "nickname", "account_id")}

    def _list_comments(self, request: FakeRequest) -> Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        repository, pr = found
        return self._page(request, repository.comments.get(pr["id"], []))

    def _comment(self, request: FakeRequest) -> tuple[Repository, dict[str, Any]] | Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        repository, pr = found
        wanted = int(request.match["comment"])
        comment = next((c for c in repository.comments.get(pr["id"], []) if c["id"] == wanted), None)
        if comment is None:
            return self._reply(request, 404, error_body("Comment not found"))
        return repository, comment

    def _update_comment(self, request: FakeRequest) -> Answer:
        found = self._comment(request)
        if len(found) == 3:  # an error answer
            return found  # type: ignore[return-value]
        _, comment = found
        if comment["user"]["account_id"] != self.user["account_id"]:
            return self._reply(request, 403, error_body("You can only edit your own comments"))
        raw = ((request.json() or {}).get("content") or {}).get("raw")
        if not raw:
            return self._reply(request, 400, error_body("content.raw: This field is required."))
        comment["content"] = {"raw": raw, "markup": "markdown", "html": f"<p>{raw}</p>"}
        comment["updated_on"] = "2024-05-02T11:00:00.000000+00:00"
        return self._reply(request, 200, comment)

    def _resolve_comment(self, request: FakeRequest) -> Answer:
        found = self._comment(request)
        if len(found) == 3:  # an error answer
            return found  # type: ignore[return-value]
        _, comment = found
        if comment.get("parent") or not comment.get("inline"):
            return self._reply(request, 400, error_body("Only top-level inline comments can be resolved"))
        if comment.get("resolution"):
            return self._reply(request, 409, error_body("Comment thread is already resolved"))
        comment["resolution"] = {
            "type": "comment_resolution",
            "user": self._author(),
            "created_on": "2024-05-02T12:00:00.000000+00:00",
        }
        return self._reply(request, 200, comment["resolution"])

    def _participate(self, request: FakeRequest, state: str) -> Answer:
        found = self._find_pr(request)
        if found is None:
            return self._reply(request, 404, error_body("Pull request not found"))
        repository, pr = found
        if pr["author"]["account_id"] == self.user["account_id"]:
            return self._reply(request, 400, error_body("You can't approve your own pull request."))
        participant = {"type": "participant", "user": self._author(), "role": "REVIEWER", "state": state,
                       "approved": state == "approved"}  # fmt: skip
        repository.participants.setdefault(pr["id"], []).append(participant)
        return self._reply(request, 200, participant)

    def _search(self, request: FakeRequest) -> Answer:
        workspace = request.match["workspace"]
        words = (request.param("search_query") or "").split()
        only = next((w[len("repo:") :] for w in words if w.startswith("repo:")), None)
        terms = [w.lower() for w in words if not w.startswith("repo:")]
        if not terms:
            return self._reply(request, 400, error_body("Search query is empty"))
        results = []
        for repository in self.repositories.values():
            if repository.workspace != workspace or (only and repository.slug != only):
                continue
            sha = repository.refs.get(repository.mainbranch or "", "")
            for path, content in sorted(repository.files.get(sha, {}).items()):
                lines = content.decode(errors="replace").splitlines()
                hits = [(n, line) for n, line in enumerate(lines, start=1) if all(t in line.lower() for t in terms)]
                if not hits:
                    continue
                number, line = hits[0]
                at = line.lower().index(terms[0])
                segments = [{"text": line[:at]}, {"text": line[at : at + len(terms[0])], "match": True}]
                segments += [{"text": line[at + len(terms[0]) :]}]
                results.append(
                    {
                        "type": "code_search_result",
                        "content_match_count": len(hits),
                        "content_matches": [{"lines": [{"line": number, "segments": segments}]}],
                        "path_matches": [{"text": path}],
                        "file": {
                            "path": path,
                            "type": "commit_file",
                            "links": {
                                "self": {
                                    "href": f"{self.url}{API}/repositories/{repository.full_name}/src/{sha}/{path}"
                                }
                            },
                        },
                    }
                )
        return self._page(request, results)

    def _commits(self, request: FakeRequest) -> Answer:
        repository = self._find(request)
        if repository is None:
            return self._reply(request, 404, error_body("Repository not found"))
        start = self._index(repository, unquote(request.match["rev"]))
        if start is None:
            return self._reply(request, 404, error_body("Commit not found"))
        history = repository.commits[start:]
        exclude = request.param("exclude")
        if exclude:
            stop = self._index(repository, exclude)
            if stop is None:
                return self._reply(request, 404, error_body(f"Commit not found: {exclude}"))
            history = repository.commits[start:stop] if stop > start else []
        path = request.param("path")
        chosen = [c for c in history if not path or path in c["_paths"]]
        return self._page(request, [{k: v for k, v in c.items() if not k.startswith("_")} for c in chosen])

    # --- paging and lookups ----------------------------------------------------------------------------------

    def _page(self, request: FakeRequest, items: list[Any], *, kind: str = "") -> Answer:
        try:
            page = max(1, int(request.param("page", "1") or 1))
            pagelen = int(request.param("pagelen", str(DEFAULT_PAGELEN)) or DEFAULT_PAGELEN)
        except ValueError:
            return self._reply(request, 400, error_body("Invalid page"))
        if not 1 <= pagelen <= PAGELEN_MAX.get(kind, 100):
            return self._reply(request, 400, error_body(f"Invalid pagelen: {pagelen}"))
        served = min(pagelen, self.page_cap)
        chunk = items[(page - 1) * served : page * served]
        body: dict[str, Any] = {"pagelen": served, "size": len(items), "page": page, "values": chunk}
        if page * served < len(items):
            query = {k: v for k, v in request.query.items() if k != "page"} | {"page": [str(page + 1)]}
            body["next"] = f"{self.url}{request.path}?{urlencode(query, doseq=True)}"
        if page > 1:
            query = {k: v for k, v in request.query.items() if k != "page"} | {"page": [str(page - 1)]}
            body["previous"] = f"{self.url}{request.path}?{urlencode(query, doseq=True)}"
        return self._reply(request, 200, body)

    def _reply(self, request: FakeRequest, status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
        extra: dict[str, str] = {}
        if request.headers.get("authorization", "").startswith("Bearer "):
            extra = {
                "X-OAuth-Scopes": self.scopes,
                "X-RateLimit-Limit": "1000",
                "X-RateLimit-Resource": "api",
                "X-RateLimit-NearLimit": "false",
            }
        return status, body, extra | (headers or {})

    def _find(self, request: FakeRequest) -> Repository | None:
        name = f"{unquote(request.match['workspace'])}/{unquote(request.match['slug'])}"
        return self.repositories.get(name)

    def _find_pr(self, request: FakeRequest) -> tuple[Repository, dict[str, Any]] | None:
        repository = self._find(request)
        if repository is None:
            return None
        number = int(request.match["id"])
        pr = next((p for p in repository.pull_requests if p["id"] == number), None)
        return (repository, pr) if pr else None

    def _from_pull_request(self, request: FakeRequest) -> tuple[Repository, int] | None:
        repository = self._find(request)
        number = request.param("from_pullrequest_id")
        if repository is None or not number or not any(p["id"] == int(number) for p in repository.pull_requests):
            return None
        return repository, int(number)

    def _resolve(self, repository: Repository, rev: str) -> str | None:
        if rev in repository.refs:
            return repository.refs[rev]
        if rev in repository.tag_refs:
            return repository.tag_refs[rev]
        return next((sha for sha in repository.files if sha.startswith(rev)), None)

    def _index(self, repository: Repository, rev: str) -> int | None:
        sha = repository.refs.get(rev) or repository.tag_refs.get(rev) or rev
        return next((i for i, c in enumerate(repository.commits) if c["hash"].startswith(sha)), None)


BBQL_CLAUSE = re.compile(r'^\s*(?P<field>[a-z_.]+)\s*(?P<op>!=|>=|<=|=|>|<|~)\s*(?P<value>"[^"]*"|\S+)\s*$')
BBQL_FIELDS = {"language": str, "full_name": str, "updated_on": datetime}


def bbql_matches(query: str, repository: dict[str, Any]) -> bool:
    """Whether a repository passes `query` (the subset of BBQL this fake reads); ValueError as Bitbucket's 400."""
    return all(
        any(_clause(part, repository) for part in clause.strip().removeprefix("(").removesuffix(")").split(" OR "))
        for clause in query.split(" AND ")
    )


def _clause(text: str, repository: dict[str, Any]) -> bool:
    found = BBQL_CLAUSE.match(text)
    if found is None:
        raise ValueError(f"Invalid query: {text}")
    name, op, raw = found["field"], found["op"], found["value"]
    kind = BBQL_FIELDS.get(name)
    if kind is None:
        raise ValueError(f'Invalid field name "{name}"')
    have: Any = repository.get(name) or ""
    if kind is datetime:
        if raw.startswith('"'):
            raise ValueError(f"Invalid datetime: {raw}")
        want: Any = datetime.fromisoformat(raw)
        have = datetime.fromisoformat(have)
    elif not raw.startswith('"'):
        raise ValueError(f"Invalid string: {raw}")
    else:
        want = raw[1:-1]
    if op == "~":
        return str(want).lower() in str(have).lower()
    return {
        "=": have == want,
        "!=": have != want,
        ">": have > want,
        ">=": have >= want,
        "<": have < want,
        "<=": have <= want,
    }[op]
