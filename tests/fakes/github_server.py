"""A loopback GitHub REST API v3 in GitHub's own shapes, laid out like GitHub Enterprise Server (`/api/v3`).

What it holds lives in memory (`FakeRepo`: files per ref, pull requests with files and diffs, commits, tags,
issues, comments, review comments), and it behaves the way clients meet GitHub: Link headers with page numbers,
a weak ETag on every JSON GET and a 304 on a matching If-None-Match, `x-ratelimit-*` headers on every answer,
`X-OAuth-Scopes` for a classic token, the text-match, diff and raw media types. In App mode (`app_id`) it checks
each JWT (RS256 signature with the App's public key, `iss`, `iat`, `exp` at most 10 minutes ahead) and hands out
installation tokens that expire after `token_ttl_s`; `expire_tokens()` ends every token issued so far.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import unquote, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes import github_graphql
from tests.fakes.github_data import (
    FakePull,
    FakeRepo,
    changed_file,
    commit_json,
    iso,
    issue_json,
    pull_json,
    user,
)
from tests.fakes.http_fake import Answer, FakeRequest, FakeService

API_VERSION = "2022-11-28"
REPO = r"(?P<repo>[^/]+/[^/]+)"
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
INLINE_MAX = 1_000_000  # the contents API inlines files up to 1 MB


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGitHub(FakeService):
    def __init__(
        self,
        *,
        token: str | None = "ghp_fake0123456789abcdefTOKEN",  # noqa: S107 - a fake credential
        scopes: str | None = "repo, read:org",
        app_id: str | None = None,
        installations: tuple[tuple[int, str], ...] = ((42, "acme"),),
        permissions: dict[str, str] | None = None,
        token_ttl_s: int = 3600,
        prefix: str = "/api/v3",
        refuse_own_reviews: bool = False,
        graphql_refusal: str | None = None,
    ) -> None:
        self.token = token
        # GitHub refuses to approve or request changes on a pull request by the same account; off by default
        # because most client tests review their own seeded pull requests.
        self.refuse_own_reviews = refuse_own_reviews
        self.graphql_refusal = graphql_refusal  # "scopes" or "forbidden": GraphQL refuses (tests/fakes/github_graphql)
        self.scopes = scopes  # None: a fine-grained token (GitHub sends no X-OAuth-Scopes)
        self.app_id = app_id
        self.installations = dict(installations)
        self.permissions = permissions or {"contents": "read", "pull_requests": "write", "metadata": "read"}
        self.token_ttl_s = token_ttl_s
        self.prefix = prefix
        self.repos: dict[str, FakeRepo] = {}
        self.clone_base: str | None = None  # where clone_url points (a tests.fakes.git_server); this fake if None
        self.installation_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.jwts: list[str] = []
        self._used: dict[str, int] = {"core": 0, "search": 0, "graphql": 0}
        self._reset_at = int(time.time()) + 3600
        self._counter_lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if app_id else None
        super().__init__()

    # --- for tests -------------------------------------------------------------------------------------------

    @property
    def private_key_pem(self) -> str:
        assert self._key is not None, "App mode needs app_id"
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def add_repo(self, full_name: str, *, default_branch: str = "main") -> FakeRepo:
        repo = FakeRepo(full_name, default_branch)
        self.repos[full_name] = repo
        return repo

    def expire_tokens(self) -> None:
        self.installation_tokens = dict.fromkeys(self.installation_tokens, 0.0)

    @property
    def exchanges(self) -> list[FakeRequest]:
        return self.seen("POST", r"/access_tokens$")

    # --- routing and the cross-cutting behaviour ---------------------------------------------------------------

    def routes(self) -> None:
        p = self.prefix
        for method, pattern, handler in [
            ("GET", "/user", self._get_user),
            ("GET", "/app", self._get_app),
            ("GET", "/app/installations", self._list_installations),
            ("GET", r"/app/installations/(?P<id>\d+)", self._get_installation),
            ("POST", r"/app/installations/(?P<id>\d+)/access_tokens", self._create_token),
            ("GET", f"/repos/{REPO}", self._get_repo),
            ("GET", "/orgs/(?P<org>[^/]+)/repos", self._org_repos),
            ("GET", "/search/repositories", self._search_repos),
            ("GET", f"/repos/{REPO}/contents/(?P<path>.+)", self._get_contents),
            ("GET", f"/repos/{REPO}/pulls", self._list_pulls),
            ("GET", rf"/repos/{REPO}/pulls/(?P<n>\d+)", self._get_pull),
            ("GET", rf"/repos/{REPO}/pulls/(?P<n>\d+)/files", self._pull_files),
            ("GET", rf"/repos/{REPO}/pulls/(?P<n>\d+)/comments", self._review_comments),
            ("POST", rf"/repos/{REPO}/pulls/(?P<n>\d+)/reviews", self._create_review),
            ("GET", "/search/code", self._search_code),
            ("GET", f"/repos/{REPO}/commits", self._list_commits),
            ("GET", f"/repos/{REPO}/tags", self._list_tags),
            ("GET", rf"/repos/{REPO}/compare/(?P<base>.+)\.\.\.(?P<head>.+)", self._compare),
            ("GET", f"/repos/{REPO}/issues", self._list_issues),
            ("GET", rf"/repos/{REPO}/issues/(?P<n>\d+)", self._get_issue),
            ("GET", rf"/repos/{REPO}/issues/(?P<n>\d+)/comments", self._issue_comments),
            ("POST", rf"/repos/{REPO}/issues/(?P<n>\d+)/comments", self._create_comment),
            ("PATCH", rf"/repos/{REPO}/issues/comments/(?P<id>\d+)", self._edit_comment),
            ("PATCH", rf"/repos/{REPO}/pulls/comments/(?P<id>\d+)", self._edit_review_comment),
            ("GET", rf"/repos/{REPO}/pulls/comments/(?P<id>\d+)/reactions", self._review_comment_reactions),
            ("GET", rf"/repos/{REPO}/collaborators/(?P<login>[^/]+)/permission", self._collaborator_permission),
            ("POST", rf"/repos/{REPO}/issues/(?P<n>\d+)/labels", self._add_labels),
            # releases and the changelog pull request of the release-notes workflow
            ("POST", f"/repos/{REPO}/releases", self._create_release),
            ("GET", f"/repos/{REPO}/git/ref/heads/(?P<branch>.+)", self._get_branch_ref),
            ("POST", f"/repos/{REPO}/git/refs", self._create_ref),
            ("PUT", f"/repos/{REPO}/contents/(?P<path>.+)", self._put_contents),
            ("POST", f"/repos/{REPO}/pulls", self._create_pull),
        ]:
            self.route(method, p + pattern, self._served(handler))
        # Enterprise Server serves GraphQL beside its REST API (/api/graphql), the cloud API at /graphql.
        graphql = "/api/graphql" if p == "/api/v3" else f"{p}/graphql"
        self.route("POST", graphql, self._served(self._graphql))

    def before(self, request: FakeRequest) -> Answer | None:
        version = request.headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return 400, {"message": f"Unsupported 'X-GitHub-Api-Version' header: {version}"}, {}
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not credential:
            return 401, {"message": "Requires authentication", "status": "401"}, {}
        if request.path == f"{self.prefix}/app" or request.path.startswith(f"{self.prefix}/app/"):
            if not self._valid_jwt(credential):
                return 401, {"message": "A JSON web token could not be decoded", "status": "401"}, {}
            self.jwts.append(credential)
            return None
        if credential == self.token or self.installation_tokens.get(credential, 0.0) > time.time():
            return None
        return 401, BAD_CREDENTIALS, {}

    def _actor(self, request: FakeRequest) -> str:
        """Who a call acts as: the App's bot for an installation token, the token's user otherwise."""
        credential = request.headers.get("authorization", "").partition(" ")[2]
        return "adjutant-test[bot]" if credential in self.installation_tokens else "octocat"

    def _valid_jwt(self, jwt: str) -> bool:
        if self._key is None:
            return False
        try:
            header_part, payload_part, signature = jwt.split(".")
            header, payload = json.loads(_unb64(header_part)), json.loads(_unb64(payload_part))
            self._key.public_key().verify(
                _unb64(signature), f"{header_part}.{payload_part}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return False
        now = time.time()
        iat, exp = payload.get("iat"), payload.get("exp")
        return (
            header.get("alg") == "RS256"
            and str(payload.get("iss")) == self.app_id
            and isinstance(iat, int)
            and isinstance(exp, int)
            and iat <= now + 1
            and now < exp <= now + 600
        )

    def _served(self, handler: Any) -> Any:
        """Every answer carries the rate-limit headers; a JSON GET carries an ETag and honours If-None-Match."""

        def serve(request: FakeRequest) -> Answer:
            status, body, headers = handler(request)
            headers = dict(headers)
            counted = True
            if request.method == "GET" and status == 200 and isinstance(body, (dict, list)):
                etag = 'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:40] + '"'
                headers["ETag"] = etag
                if request.headers.get("if-none-match") == etag:
                    status, body, counted = 304, None, False  # GitHub does not count a 304
            return status, body, headers | self._rate_headers(request.path, counted=counted)

        return serve

    def _rate_headers(self, path: str, *, counted: bool) -> dict[str, str]:
        resource, limit = (
            ("search", 30) if "/search/" in path else ("graphql", 5000) if path.endswith("/graphql") else ("core", 5000)
        )
        with self._counter_lock:
            self._used[resource] += 1 if counted else 0
            used = self._used[resource]
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self._reset_at),
            "x-ratelimit-resource": resource,
        }

    def _page(self, request: FakeRequest, items: list[Any], *, default: int = 30) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and its Link header, the way GitHub numbers pages."""
        per_page = min(100, int(request.param("per_page") or default))
        page = max(1, int(request.param("page") or 1))
        last = max(1, -(-len(items) // per_page))
        query = {name: values[0] for name, values in request.query.items()}

        def link(number: int, rel: str) -> str:
            target = urlencode(query | {"per_page": str(per_page), "page": str(number)})
            return f'<{self.url}{request.path}?{target}>; rel="{rel}"'

        links = ([link(page + 1, "next"), link(last, "last")] if page < last else []) + (
            [link(page - 1, "prev"), link(1, "first")] if page > 1 else []
        )
        return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(links)} if links else {})

    def _repo(self, request: FakeRequest) -> FakeRepo | None:
        assert request.match is not None
        return self.repos.get(request.match["repo"])

    def _web(self, repo: str) -> str:
        return f"{self.url}/{repo}"

    # --- repositories ------------------------------------------------------------------------------------------

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        """A repository as GET /repos/{repo} and the lists answer it (the fields crawling reads, and some)."""
        owner, _, name = repo.full_name.partition("/")
        api = f"{self.url}{self.prefix}/repos/{repo.full_name}"
        return {
            "id": 1000 + sorted(self.repos).index(repo.full_name),
            "node_id": f"R_{repo.full_name}",
            "name": name,
            "full_name": repo.full_name,
            "private": True,
            "owner": user(owner) | {"type": "Organization"},
            "html_url": self._web(repo.full_name),
            "description": None,
            "fork": False,
            "url": api,
            "clone_url": f"{self.clone_base or self.url}/{repo.full_name}.git",
            "ssh_url": f"git@{self.url.split('://', 1)[1].split(':')[0]}:{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "language": None,
            "archived": False,
            "disabled": False,
            "size": 10,
            "pushed_at": "2024-06-01T12:00:00Z",
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2024-06-01T12:00:00Z",
            "topics": [],
            "visibility": "private",
        } | repo.meta

    def _get_repo(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        return (404, NOT_FOUND, {}) if repo is None else (200, self.repo_json(repo), {})

    def _org_repos(self, request: FakeRequest) -> Answer:
        org = request.match["org"].lower()  # type: ignore[index]
        owned = [self.repo_json(r) for n, r in sorted(self.repos.items()) if n.split("/")[0].lower() == org]
        if not owned:
            return 404, NOT_FOUND, {}
        page, headers = self._page(request, owned)
        return 200, page, headers

    def _search_repos(self, request: FakeRequest) -> Answer:
        """`topic:X` and `org:Y` qualifiers, as repository search reads them."""
        terms = (request.param("q") or "").split()
        topics = [t.split(":", 1)[1] for t in terms if t.startswith("topic:")]
        orgs = [t.split(":", 1)[1].lower() for t in terms if t.startswith("org:")]
        found = [
            self.repo_json(r)
            for n, r in sorted(self.repos.items())
            if all(t in (self.repo_json(r)["topics"] or []) for t in topics)
            and (not orgs or n.split("/")[0].lower() in orgs)
        ]
        page, headers = self._page(request, found)
        return 200, {"total_count": len(found), "incomplete_results": False, "items": page}, headers

    # --- identity and Apps -------------------------------------------------------------------------------------

    def _get_user(self, request: FakeRequest) -> Answer:
        headers = {"X-OAuth-Scopes": self.scopes, "X-Accepted-OAuth-Scopes": ""} if self.scopes is not None else {}
        return 200, {"login": "octocat", "id": 1, "type": "User", "name": "The Octocat"}, headers

    def _get_app(self, request: FakeRequest) -> Answer:
        return (
            200,
            {
                "id": int(self.app_id or 0),
                "slug": "adjutant-test",
                "name": "Adjutant Test",
                "owner": user("acme"),
                "permissions": self.permissions,
                "events": [],
                "installations_count": len(self.installations),
            },
            {},
        )

    def _installation(self, installation: int) -> dict[str, Any]:
        return {
            "id": installation,
            "app_id": int(self.app_id or 0),
            "app_slug": "adjutant-test",
            "account": user(self.installations[installation]) | {"type": "Organization"},
            "repository_selection": "all",
            "permissions": self.permissions,
            "events": [],
            "access_tokens_url": f"{self.url}{self.prefix}/app/installations/{installation}/access_tokens",
        }

    def _list_installations(self, request: FakeRequest) -> Answer:
        chunk, headers = self._page(request, [self._installation(i) for i in self.installations])
        return 200, chunk, headers

    def _get_installation(self, request: FakeRequest) -> Answer:
        installation = int(request.match["id"])  # type: ignore[index]
        return (
            (200, self._installation(installation), {}) if installation in self.installations else (404, NOT_FOUND, {})
        )

    def _create_token(self, request: FakeRequest) -> Answer:
        installation = int(request.match["id"])  # type: ignore[index]
        if installation not in self.installations:
            return 404, NOT_FOUND, {}
        token = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_ttl_s
        self.installation_tokens[token] = expires
        return (
            201,
            {
                "token": token,
                "expires_at": iso(expires),
                "permissions": self.permissions,
                "repository_selection": "all",
            },
            {},
        )

    # --- files and search --------------------------------------------------------------------------------------

    def _get_contents(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        ref = request.param("ref") or repo.default_branch
        files = repo.files.get(ref)
        if files is None:
            return 404, {"message": f"No commit found for the ref {ref}", "status": "404"}, {}
        path = unquote(request.match["path"]).strip("/")  # type: ignore[index]
        if path in files:
            data = files[path]
            if "raw" in request.headers.get("accept", ""):
                first, _, last = request.headers.get("range", "").removeprefix("bytes=").partition("-")
                if first.isdigit() and last.isdigit():
                    part = data[int(first) : int(last) + 1]
                    return (
                        206,
                        part,
                        {
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"bytes {first}-{int(first) + len(part) - 1}/{len(data)}",
                        },
                    )
                return 200, data, {"Content-Type": "application/octet-stream"}
            inline = len(data) <= INLINE_MAX
            encoded = base64.b64encode(data).decode() if inline else ""
            return (
                200,
                {
                    "type": "file",
                    "encoding": "base64" if inline else "none",
                    "size": len(data),
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)),
                    "sha": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                    "html_url": f"{self._web(repo.full_name)}/blob/{ref}/{path}",
                },
                {},
            )
        children = sorted({p[len(path) + 1 :].split("/")[0] for p in files if p.startswith(path + "/")})
        if children:
            return 200, [{"type": "file", "name": name, "path": f"{path}/{name}"} for name in children], {}
        return 404, NOT_FOUND, {}

    def _search_code(self, request: FakeRequest) -> Answer:
        words = (request.param("q") or "").split()
        scope = [w.removeprefix("repo:") for w in words if w.startswith("repo:")]
        terms = [w.lower() for w in words if ":" not in w]
        if not terms:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Search", "field": "q", "code": "missing"}],
                    "status": "422",
                },
                {},
            )
        text_match = "text-match" in request.headers.get("accept", "")
        items = []
        for repo in self.repos.values():
            if scope and repo.full_name not in scope:
                continue
            for path, data in sorted(repo.files.get(repo.default_branch, {}).items()):
                text = data.decode(errors="replace")
                if all(term in text.lower() for term in terms):
                    item = {
                        "name": path.rsplit("/", 1)[-1],
                        "path": path,
                        "sha": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                        "html_url": f"{self._web(repo.full_name)}/blob/{repo.default_branch}/{path}",
                        "repository": {"full_name": repo.full_name, "name": repo.full_name.split("/")[1]},
                        "score": 1.0,
                    }
                    if text_match:
                        line = next(ln for ln in text.splitlines() if terms[0] in ln.lower())
                        start = line.lower().index(terms[0])
                        item["text_matches"] = [
                            {
                                "object_type": "FileContent",
                                "property": "content",
                                "fragment": line,
                                "matches": [
                                    {
                                        "text": line[start : start + len(terms[0])],
                                        "indices": [start, start + len(terms[0])],
                                    }
                                ],
                            }
                        ]
                    items.append(item)
        chunk, headers = self._page(request, items)
        return 200, {"total_count": len(items), "incomplete_results": False, "items": chunk}, headers

    # --- pull requests -----------------------------------------------------------------------------------------

    def _pull(self, request: FakeRequest) -> tuple[FakeRepo, FakePull] | None:
        repo = self._repo(request)
        pull = repo.pulls.get(int(request.match["n"])) if repo else None  # type: ignore[index]
        return (repo, pull) if repo and pull else None

    def _list_pulls(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        state = request.param("state", "open")
        pulls = [p for n, p in sorted(repo.pulls.items(), reverse=True) if state == "all" or p.state == state]
        chunk, headers = self._page(request, [pull_json(self._web(repo.full_name), p) for p in pulls])
        return 200, chunk, headers

    def _get_pull(self, request: FakeRequest) -> Answer:
        found = self._pull(request)
        if found is None:
            return 404, NOT_FOUND, {}
        repo, pull = found
        if "diff" in request.headers.get("accept", ""):
            if pull.diff_too_large:
                return (
                    406,
                    {
                        "message": "Sorry, the diff exceeded the maximum number of lines (20000)",
                        "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
                        "status": "406",
                    },
                    {},
                )
            return 200, pull.diff, {"Content-Type": "application/vnd.github.diff; charset=utf-8"}
        return (
            200,
            pull_json(self._web(repo.full_name), pull)
            | {"merged": pull.merged_at is not None, "changed_files": len(pull.files)},
            {},
        )

    def _pull_files(self, request: FakeRequest) -> Answer:
        found = self._pull(request)
        if found is None:
            return 404, NOT_FOUND, {}
        chunk, headers = self._page(request, found[1].files)
        return 200, chunk, headers

    def _review_comments(self, request: FakeRequest) -> Answer:
        found = self._pull(request)
        if found is None:
            return 404, NOT_FOUND, {}
        chunk, headers = self._page(request, found[1].review_comments)
        return 200, chunk, headers

    def _create_review(self, request: FakeRequest) -> Answer:
        found = self._pull(request)
        if found is None:
            return 404, NOT_FOUND, {}
        repo, pull = found
        body = request.json() or {}
        event = body.get("event")
        problems = []
        if event not in ("COMMENT", "APPROVE", "REQUEST_CHANGES"):
            problems.append("event is not a valid review event")
        if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
            problems.append("Body is required for this event")
        if body.get("commit_id") != pull.head_sha:
            problems.append("commit_id is not the head of the pull request")
        paths = {f["filename"] for f in pull.files}
        problems += ["Path could not be resolved" for c in body.get("comments") or [] if c.get("path") not in paths]
        if problems:
            return 422, {"message": "Unprocessable Entity", "errors": problems, "status": "422"}, {}
        review_id = 1000 + len(pull.reviews)
        web = f"{self._web(repo.full_name)}/pull/{pull.number}"
        for comment in body.get("comments") or []:
            comment_id = 5000 + sum(len(p.review_comments) for p in repo.pulls.values())
            pull.review_comments.append(
                {
                    "id": comment_id,
                    "pull_request_review_id": review_id,
                    "path": comment["path"],
                    "line": comment["line"],
                    "start_line": comment.get("start_line"),
                    "side": comment.get("side", "RIGHT"),
                    "body": comment["body"],
                    "user": user(self._actor(request)),
                    "commit_id": body["commit_id"],
                    "created_at": iso(time.time()),
                    "html_url": f"{web}#discussion_r{comment_id}",
                }
            )
        state = {"COMMENT": "COMMENTED", "APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}[event]
        if self.refuse_own_reviews and event != "COMMENT" and pull.author == self._actor(request):
            return 422, {"message": "Unprocessable Entity", "errors": [
                f"Can not {'approve' if event == 'APPROVE' else 'request changes on'} your own pull request"
            ], "status": "422"}, {}  # fmt: skip
        review = {
            "id": review_id,
            "user": user(self._actor(request)),
            "body": body.get("body"),
            "state": state,
            "commit_id": body["commit_id"],
            "html_url": f"{web}#pullrequestreview-{review_id}",
            "submitted_at": iso(time.time()),
        }
        pull.reviews.append(review)
        return 200, review, {}

    def _graphql(self, request: FakeRequest) -> Answer:
        status, body = github_graphql.answer(self.repos, request.json(), refusal=self.graphql_refusal)
        return status, body, {}

    # --- commits, tags, comparisons ----------------------------------------------------------------------------

    def _list_commits(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        start = repo.resolve(request.param("sha") or repo.default_branch)
        if start is None:
            return 404, {"message": "No commit found for SHA", "status": "404"}, {}
        path, since, until = request.param("path"), request.param("since"), request.param("until")
        commits = [
            c
            for c in repo.commits[start:]
            if (not path or path in c["files"])
            and (not since or c["date"] >= since)
            and (not until or c["date"] <= until)
        ]
        chunk, headers = self._page(request, [commit_json(self._web(repo.full_name), c) for c in commits])
        return 200, chunk, headers

    def _list_tags(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        tags = [{"name": name, "commit": {"sha": sha}, "node_id": name} for name, sha in repo.tags]
        chunk, headers = self._page(request, tags)
        return 200, chunk, headers

    def _compare(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        assert request.match is not None
        base, head = unquote(request.match["base"]), unquote(request.match["head"])
        base_at = repo.resolve(base) if repo else None
        head_at = repo.resolve(head) if repo else None
        if repo is None or base_at is None or head_at is None:
            return 404, NOT_FOUND, {}
        between = list(reversed(repo.commits[head_at:base_at]))  # oldest first, as GitHub lists them
        status, behind = "ahead" if between else "identical", 0
        head_line, base_line = repo.ancestry(repo.commits[head_at]["sha"]), repo.ancestry(repo.commits[base_at]["sha"])
        if repo.commits[base_at]["sha"] not in head_line:  # rewritten history: both sides have their own commits
            between = [c for c in reversed(repo.commits) if c["sha"] in head_line and c["sha"] not in base_line]
            status, behind = "diverged", len(base_line - head_line)
        chunk, headers = self._page(request, [commit_json(self._web(repo.full_name), c) for c in between], default=250)
        paths = sorted({path for c in between for path in c["files"]})
        first_page = int(request.param("page") or 1) == 1
        scripted = repo.compare_files.get(f"{base}...{head}")
        if scripted is not None:
            return (
                200,
                {
                    "html_url": f"{self._web(repo.full_name)}/compare/{base}...{head}",
                    "status": status,
                    "ahead_by": len(between),
                    "behind_by": behind,
                    "total_commits": len(between),
                    "commits": chunk,
                    "files": scripted if first_page else [],
                },
                headers,
            )
        return (
            200,
            {
                "html_url": f"{self._web(repo.full_name)}/compare/{base}...{head}",
                "status": status,
                "ahead_by": len(between),
                "behind_by": behind,
                "total_commits": len(between),
                "commits": chunk,
                "files": [changed_file(p) for p in paths] if first_page else [],
            },
            headers,
        )

    # --- issues and comments -----------------------------------------------------------------------------------

    def _list_issues(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        state, since = request.param("state", "open"), request.param("since")
        labels = [label for label in (request.param("labels") or "").split(",") if label]
        everything = {**repo.issues, **repo.pulls}
        items = [issue_json(self._web(repo.full_name), repo, everything[n]) for n in sorted(everything, reverse=True)]
        items = [
            i
            for i in items
            if (state == "all" or i["state"] == state)
            and (not since or i["updated_at"] >= since)
            and all(label in {x["name"] for x in i["labels"]} for label in labels)
        ]
        chunk, headers = self._page(request, items)
        return 200, chunk, headers

    def _get_issue(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        number = int(request.match["n"])  # type: ignore[index]
        item = (repo.issues.get(number) or repo.pulls.get(number)) if repo else None
        return (200, issue_json(self._web(repo.full_name), repo, item), {}) if repo and item else (404, NOT_FOUND, {})

    def _issue_comments(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        chunk, headers = self._page(request, repo.comments.get(int(request.match["n"]), []))  # type: ignore[index]
        return 200, chunk, headers

    def _create_comment(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        number = int(request.match["n"])  # type: ignore[index]
        if repo is None or (number not in repo.issues and number not in repo.pulls):
            return 404, NOT_FOUND, {}
        body = (request.json() or {}).get("body")
        if not body:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
                    "status": "422",
                },
                {},
            )
        kind = "pull" if number in repo.pulls else "issues"
        comment_id = 9000 + sum(len(c) for c in repo.comments.values())
        comment = {
            "id": comment_id,
            "body": body,
            "user": user(self._actor(request)),
            "created_at": iso(time.time()),
            "html_url": f"{self._web(repo.full_name)}/{kind}/{number}#issuecomment-{comment_id}",
        }
        repo.comments.setdefault(number, []).append(comment)
        return 201, comment, {}

    def _edit_comment(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        comment_id = int(request.match["id"])  # type: ignore[index]
        found = next((c for cs in (repo.comments.values() if repo else []) for c in cs if c["id"] == comment_id), None)
        return self._edited(request, found)

    def _edit_review_comment(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        comment_id = int(request.match["id"])  # type: ignore[index]
        pulls = repo.pulls.values() if repo else []
        found = next((c for p in pulls for c in p.review_comments if c["id"] == comment_id), None)
        return self._edited(request, found)

    def _review_comment_reactions(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        comment_id = int(request.match["id"])  # type: ignore[index]
        pulls = repo.pulls.values() if repo else []
        if repo is None or not any(c["id"] == comment_id for p in pulls for c in p.review_comments):
            return 404, NOT_FOUND, {}
        chunk, headers = self._page(request, repo.reactions.get(comment_id, []))
        return 200, chunk, headers

    def _collaborator_permission(self, request: FakeRequest) -> Answer:
        """Everyone may read a public repository: a login that is no collaborator answers `read`."""
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        login = request.match["login"]  # type: ignore[index]
        role = repo.collaborators.get(login, "read")
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)  # `permission` keeps the old names
        return 200, {"permission": legacy, "role_name": role, "user": user(login)}, {}

    def _edited(self, request: FakeRequest, comment: dict[str, Any] | None) -> Answer:
        if comment is None:
            return 404, NOT_FOUND, {}
        if comment["user"]["login"] != self._actor(request):
            return 403, {"message": "Must have admin rights to Repository.", "status": "403"}, {}
        body = (request.json() or {}).get("body")
        if not body:
            return 422, {"message": "Validation Failed", "errors": [{"field": "body", "code": "missing_field"}]}, {}
        comment["body"] = body
        comment["updated_at"] = iso(time.time())
        return 200, comment, {}

    def _add_labels(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        number = int(request.match["n"])  # type: ignore[index]
        item = (repo.pulls.get(number) or repo.issues.get(number)) if repo else None
        if item is None:
            return 404, NOT_FOUND, {}
        labels = (request.json() or {}).get("labels")
        if not isinstance(labels, list) or not all(isinstance(label, str) and label for label in labels):
            return 422, {"message": "Validation Failed", "errors": [{"field": "labels", "code": "invalid"}]}, {}
        item.labels.extend(label for label in labels if label not in item.labels)
        return 200, [{"id": abs(hash(label)) % 10**6, "name": label, "color": "ededed"} for label in item.labels], {}

    # --- releases, branches, file commits and new pull requests (release notes) --------------------------------

    def _validation_failed(self, resource: str, field_name: str, code: str) -> Answer:
        error = {"resource": resource, "field": field_name, "code": code}
        return 422, {"message": "Validation Failed", "errors": [error], "status": "422"}, {}

    def _create_release(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        data = request.json() or {}
        tag = data.get("tag_name")
        if not isinstance(tag, str) or not tag:
            return self._validation_failed("Release", "tag_name", "missing_field")
        if any(r["tag_name"] == tag for r in repo.releases):
            return self._validation_failed("Release", "tag_name", "already_exists")
        release_id = 1000 + len(repo.releases)
        release = {
            "id": release_id,
            "tag_name": tag,
            "target_commitish": data.get("target_commitish") or repo.default_branch,
            "name": data.get("name"),
            "body": data.get("body"),
            "draft": bool(data.get("draft")),
            "prerelease": bool(data.get("prerelease")),
            "author": user(self._actor(request)),
            "created_at": iso(time.time()),
            "published_at": None if data.get("draft") else iso(time.time()),
            "url": f"{self.url}{self.prefix}/repos/{repo.full_name}/releases/{release_id}",
            "html_url": f"{self._web(repo.full_name)}/releases/tag/{tag}",
        }
        repo.releases.append(release)
        return 201, release, {}

    def _ref_json(self, repo: FakeRepo, branch: str, sha: str) -> dict[str, Any]:
        api = f"{self.url}{self.prefix}/repos/{repo.full_name}"
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{branch}",
            "url": f"{api}/git/refs/heads/{branch}",
            "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"},
        }

    def _get_branch_ref(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        branch = unquote(request.match["branch"])  # type: ignore[index]
        sha = repo.branches.get(branch) if repo else None
        if repo is not None and sha is None and branch == repo.default_branch:
            sha = repo.commits[0]["sha"] if repo.commits else "0" * 40
        if repo is None or sha is None:
            return 404, NOT_FOUND, {}
        return 200, self._ref_json(repo, branch, sha), {}

    def _create_ref(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        data = request.json() or {}
        ref, sha = str(data.get("ref") or ""), str(data.get("sha") or "")
        if not ref.startswith("refs/heads/") or len(sha) != 40:
            return 422, {"message": "Reference update failed", "status": "422"}, {}
        branch = ref.removeprefix("refs/heads/")
        if branch in repo.branches or branch in repo.files:
            return 422, {"message": "Reference already exists", "status": "422"}, {}
        repo.branches[branch] = sha
        repo.files[branch] = dict(repo.files.get(repo.default_branch, {}))
        return 201, self._ref_json(repo, branch, sha), {}

    def _put_contents(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        data = request.json() or {}
        path = unquote(request.match["path"]).strip("/")  # type: ignore[index]
        branch = data.get("branch") or repo.default_branch
        if not data.get("message") or not isinstance(data.get("content"), str):
            return self._validation_failed("Commit", "message", "missing_field")
        files = repo.files.get(branch)
        if files is None:
            return 404, {"message": f"Branch {branch} not found", "status": "404"}, {}
        current = files.get(path)
        if current is not None:
            blob = hashlib.sha1(current, usedforsecurity=False).hexdigest()
            if not data.get("sha"):
                return 422, {"message": '"sha" wasn\'t supplied.', "status": "422"}, {}
            if data["sha"] != blob:
                return 409, {"message": f"{path} does not match {data['sha']}", "status": "409"}, {}
        content = base64.b64decode(data["content"])
        files[path] = content
        commit_sha = hashlib.sha1(f"{branch}:{path}:{len(repo.branches)}".encode() + content, usedforsecurity=False)
        repo.branches[branch] = commit_sha.hexdigest()
        body = {
            "content": {
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "sha": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
                "html_url": f"{self._web(repo.full_name)}/blob/{branch}/{path}",
            },
            "commit": {"sha": repo.branches[branch], "message": data["message"]},
        }
        return (201 if current is None else 200), body, {}

    def _create_pull(self, request: FakeRequest) -> Answer:
        repo = self._repo(request)
        if repo is None:
            return 404, NOT_FOUND, {}
        data = request.json() or {}
        head, base = str(data.get("head") or ""), str(data.get("base") or "")
        if not data.get("title"):
            return self._validation_failed("PullRequest", "title", "missing_field")
        if head not in repo.branches or (base != repo.default_branch and base not in repo.branches):
            return self._validation_failed("PullRequest", "head" if head not in repo.branches else "base", "invalid")
        pull = FakePull(
            number=repo.next_number(),
            title=str(data["title"]),
            head_ref=head,
            head_sha=repo.branches[head],
            base_ref=base,
            body=str(data.get("body") or ""),
            author=self._actor(request),
            created_at=iso(time.time()),
        )
        repo.pulls[pull.number] = pull
        return 201, pull_json(self._web(repo.full_name), pull), {}
