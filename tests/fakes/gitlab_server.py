"""A loopback GitLab speaking REST v4 as gitlab.com does: projects addressed by their URL-encoded full path,
`PRIVATE-TOKEN` or OAuth `Bearer` authentication with `{"message": "401 Unauthorized"}` refusals, offset
pagination with `Link` and `X-Next-Page`/`X-Total` headers (per_page capped at 100), `RateLimit-*` headers
on every answer, weak ETags honoured with a 304, and the JSON shapes of users, tokens, files, merge requests,
their diffs, notes and discussions, blob search results, commits and tags.

Tests fill `projects` (see `add_project` and the `merge_request` / `commit` / `diff` builders) and read
`requests` / `seen()` to check what the client sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

TOKEN = "glpat-fake-0123456789abcdef"
OAUTH_TOKEN = "gloas-fake-oauth-token-0123"
API = "/api/v4"
PROJECT = API + "/projects/(?P<project>[^/]+)"
MR = PROJECT + "/merge_requests/(?P<iid>[0-9]+)"


@dataclass
class Project:
    id: int
    path: str
    default_branch: str = "main"
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # ref -> path -> content
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag name -> commit sha
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    diffs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # MR iid -> its diffs
    commits: list[dict[str, Any]] = field(default_factory=list)  # one line of history, newest first
    tags: list[dict[str, Any]] = field(default_factory=list)
    compare_diffs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "base...head" -> diffs
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    discussions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    approvals: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # MR iid -> {"user", "sha"}
    releases: list[dict[str, Any]] = field(default_factory=list)
    awards: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # note id -> award emoji
    members: list[dict[str, Any]] = field(default_factory=list)  # as members/all lists them, with access_level
    # What the project answers beyond the defaults (archived, forked_from_project, topics, last_activity_at,
    # http_url_to_repo, statistics, ...); `languages` is what GET .../languages answers
    meta: dict[str, Any] = field(default_factory=dict)
    languages: dict[str, float] = field(default_factory=dict)

    def award(self, note_id: int, username: str, name: str) -> None:
        """An award emoji on a note (`thumbsup`, `thumbsdown`, ...), as GitLab lists it."""
        found = self.awards.setdefault(note_id, [])
        found.append(
            {
                "id": 700 + len(found),
                "name": name,
                "user": {"id": 40 + len(found), "username": username, "name": username.title(), "state": "active"},
                "created_at": "2024-05-02T12:00:00.000Z",
                "updated_at": "2024-05-02T12:00:00.000Z",
                "awardable_id": note_id,
                "awardable_type": "Note",
            }
        )

    def add_member(self, username: str, access_level: int) -> None:
        member = {"id": 60 + len(self.members), "username": username, "name": username.title(), "state": "active"}
        self.members.append(member | {"access_level": access_level})


def merge_request(
    project: Project,
    iid: int,
    title: str,
    *,
    state: str = "opened",
    draft: bool = False,
    description: str = "",
    author: str = "ada",
    source_branch: str = "feature",
    target_branch: str = "main",
    labels: tuple[str, ...] = (),
    created_at: str = "2024-05-01T10:00:00.000Z",
    head_sha: str = "h" * 40,
    base_sha: str = "b" * 40,
) -> dict[str, Any]:
    """A merge request as GET /projects/:id/merge_requests/:iid returns it (lists omit `diff_refs`)."""
    return {
        "id": 1000 + iid,
        "iid": iid,
        "project_id": project.id,
        "title": title,
        "description": description,
        "state": state,
        "draft": draft,
        "work_in_progress": draft,
        "created_at": created_at,
        "updated_at": created_at,
        "merged_at": "2024-05-03T10:00:00.000Z" if state == "merged" else None,
        "closed_at": "2024-05-03T10:00:00.000Z" if state == "closed" else None,
        "target_branch": target_branch,
        "source_branch": source_branch,
        "author": {"id": 7, "username": author, "name": author.title(), "state": "active"},
        "labels": list(labels),
        "sha": head_sha,
        "merge_commit_sha": None,
        "diff_refs": {"base_sha": base_sha, "head_sha": head_sha, "start_sha": base_sha},
        "web_url": f"https://gitlab.example.com/{project.path}/-/merge_requests/{iid}",
        "references": {"short": f"!{iid}", "full": f"{project.path}!{iid}"},
    }


def diff(
    old_path: str,
    new_path: str | None = None,
    hunks: str = "",
    *,
    new_file: bool = False,
    deleted_file: bool = False,
    renamed_file: bool = False,
) -> dict[str, Any]:
    """One entry of GET .../merge_requests/:iid/diffs: the hunks without file headers, as GitLab sends them."""
    return {
        "old_path": old_path,
        "new_path": new_path or old_path,
        "a_mode": "0" if new_file else "100644",
        "b_mode": "0" if deleted_file else "100644",
        "diff": hunks,
        "new_file": new_file,
        "renamed_file": renamed_file,
        "deleted_file": deleted_file,
        "generated_file": False,
        "collapsed": False,
        "too_large": False,
    }


def commit(
    project: Project,
    sha: str,
    message: str,
    when: str,
    *,
    parents: tuple[str, ...] = (),
    paths: tuple[str, ...] = (),
    author: str = "Ada Lovelace",
) -> dict[str, Any]:
    """A commit as GET /projects/:id/repository/commits lists it; `_paths` (never sent) drives `path=`."""
    return {
        "id": sha,
        "short_id": sha[:8],
        "created_at": when,
        "parent_ids": list(parents),
        "title": message.splitlines()[0],
        "message": message,
        "author_name": author,
        "author_email": f"{author.split()[0].lower()}@example.com",
        "authored_date": when,
        "committer_name": author,
        "committer_email": f"{author.split()[0].lower()}@example.com",
        "committed_date": when,
        "trailers": {},
        "web_url": f"https://gitlab.example.com/{project.path}/-/commit/{sha}",
        "_paths": list(paths),
    }


class FakeGitLab(FakeService):
    def __init__(self, *, token: str = TOKEN, oauth_token: str = OAUTH_TOKEN) -> None:
        self.token = token
        self.oauth_token = oauth_token
        self.user: dict[str, Any] = {
            "id": 7,
            "username": "ada",
            "name": "Ada Lovelace",
            "state": "active",
            "bot": False,
            "web_url": "https://gitlab.example.com/ada",
        }
        # GET /personal_access_tokens/self; None answers 404 as GitLab before 15.5 does.
        self.token_info: dict[str, Any] | None = {
            "id": 42,
            "name": "adjutant",
            "revoked": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "scopes": ["api", "read_repository"],
            "user_id": 7,
            "last_used_at": None,
            "active": True,
            "expires_at": "2025-01-01",
        }
        self.projects: dict[str, Project] = {}
        self.max_per_page = 100
        self.link_header = True  # False: only X-Next-Page, as behind proxies that drop long headers
        self.has_diffs_endpoint = True  # False: GitLab before 15.7 (only /changes)
        self.rate_remaining = 1999
        self.rate_reset_in_s = 60
        self.not_modified = 0  # 304s answered
        self.clone_base: str | None = None  # where http_url_to_repo points (a tests.fakes.git_server)
        super().__init__()

    def add_project(self, path: str, **values: Any) -> Project:
        project = Project(id=len(self.projects) + 1, path=path, **values)
        self.projects[path] = project
        return project

    # --- routes ----------------------------------------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", API + "/user", lambda r: self._reply(200, self.user))
        self.route("GET", API + "/personal_access_tokens/self", self._token_self)
        self.route("GET", "/oauth/token/info", self._oauth_info)
        self.route("GET", API + "/projects", self._list_projects)
        self.route("GET", API + "/groups/(?P<group>[^/]+)/projects", self._group_projects)
        self.route("GET", PROJECT + "/repository/branches/(?P<branch>[^/]+)", self._branch)
        self.route("GET", PROJECT + "/languages", self._languages)
        self.route("GET", PROJECT, self._project)
        self.route("GET", PROJECT + "/repository/files/(?P<file>[^/]+)", self._file)
        self.route("GET", PROJECT + "/merge_requests", self._merge_requests)
        self.route("GET", MR, self._merge_request)
        self.route("GET", MR + "/diffs", self._diffs)
        self.route("GET", MR + "/changes", self._changes)
        self.route("POST", MR + "/notes", self._add_note)
        self.route("PUT", MR + "/notes/(?P<note>[0-9]+)", self._update_note)
        self.route("GET", MR + "/discussions", self._list_discussions)
        self.route("GET", MR + "/notes/(?P<note>[0-9]+)/award_emoji", self._award_emoji)
        self.route("GET", PROJECT + "/members/all", self._members)
        self.route("POST", MR + "/discussions", self._add_discussion)
        self.route("PUT", MR + "/discussions/(?P<discussion>[0-9a-f]+)", self._resolve_discussion)
        self.route("PUT", MR, self._update_merge_request)
        self.route("POST", MR + "/approve", self._approve)
        self.route("GET", PROJECT + "/search", self._search)
        self.route("GET", API + "/search", self._search)
        self.route("GET", PROJECT + "/repository/commits", self._commits)
        self.route("GET", PROJECT + "/repository/tags", self._tags)
        self.route("GET", PROJECT + "/repository/compare", self._compare)
        self.route("POST", PROJECT + "/releases", self._create_release)

    def before(self, request: FakeRequest) -> Answer | None:
        private = request.headers.get("private-token")
        bearer = request.headers.get("authorization")
        if private == self.token or bearer == f"Bearer {self.oauth_token}":
            return None
        return 401, {"message": "401 Unauthorized"}, self._rate_headers()

    def unmatched(self, request: FakeRequest) -> Answer:
        return self._reply(404, {"message": "404 Not Found"})

    def _token_self(self, request: FakeRequest) -> Answer:
        if self.token_info is None or request.headers.get("private-token") != self.token:
            return self._reply(404, {"message": "404 Not Found"})
        return self._reply(200, self.token_info)

    def _oauth_info(self, request: FakeRequest) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.oauth_token}":
            return self._reply(401, {"error": "invalid_token", "error_description": "The access token is invalid"})
        return self._reply(200, {"resource_owner_id": 7, "scope": ["read_api", "read_user"], "expires_in": 7200})

    def project_json(self, project: Project, *, statistics: bool = False) -> dict[str, Any]:
        """A project as GET /projects/:id and the project lists answer it (what crawling reads, and some)."""
        namespace, _, name = project.path.rpartition("/")
        body: dict[str, Any] = {
            "id": project.id,
            "name": name,
            "path": name,
            "path_with_namespace": project.path,
            "namespace": {"full_path": namespace, "kind": "group"},
            "default_branch": project.default_branch,
            "web_url": f"https://gitlab.example.com/{project.path}",
            "http_url_to_repo": f"{self.clone_base or self.url}/{project.path}.git",
            "archived": False,
            "topics": [],
            "tag_list": [],
            "last_activity_at": "2024-06-01T12:00:00.000Z",
            "visibility": "private",
        } | project.meta
        if not statistics:
            body.pop("statistics", None)
        elif "statistics" not in body:
            body["statistics"] = {"repository_size": 10 * 1024, "commit_count": 1}
        return body

    def _project(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        return self._etagged(request, self.project_json(project, statistics=request.param("statistics") == "true"))

    def _listed(self, request: FakeRequest, projects: list[Project]) -> Answer:
        topic = request.param("topic")
        statistics = request.param("statistics") == "true"
        found = [
            self.project_json(p, statistics=statistics)
            for p in sorted(projects, key=lambda p: p.path)
            if topic is None or topic in (p.meta.get("topics") or [])
        ]
        return self._page(request, found)

    def _list_projects(self, request: FakeRequest) -> Answer:
        return self._listed(request, list(self.projects.values()))

    def _group_projects(self, request: FakeRequest) -> Answer:
        group = unquote(request.match["group"]).strip("/")  # type: ignore[index]
        subgroups = request.param("include_subgroups") == "true"
        inside = [
            p
            for p in self.projects.values()
            if p.path.startswith(group + "/") and (subgroups or "/" not in p.path[len(group) + 1 :])
        ]
        if not inside:
            return self._reply(404, {"message": "404 Group Not Found"})
        return self._listed(request, inside)

    def _branch(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        branch = unquote(request.match["branch"])  # type: ignore[index]
        sha = project.refs.get(branch) if project else None
        if project is None or sha is None:
            return self._reply(404, {"message": "404 Branch Not Found"})
        return self._reply(200, {"name": branch, "commit": {"id": sha, "short_id": sha[:8]}, "default": True})

    def _languages(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        return self._reply(200, project.languages)

    def _file(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        ref = request.param("ref")
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        if not ref:
            return self._reply(400, {"error": "ref is missing"})
        path = unquote(request.match["file"])
        content = project.files.get(ref, {}).get(path)
        if content is None:
            return self._reply(404, {"message": "404 File Not Found"})
        body = {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(content),
            "encoding": "base64",
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "ref": ref,
            "blob_id": hashlib.sha1(content).hexdigest(),  # noqa: S324 - git names blobs by SHA-1
            "commit_id": project.refs.get(ref, "c" * 40),
            "last_commit_id": project.refs.get(ref, "c" * 40),
            "execute_filemode": False,
            "content": base64.b64encode(content).decode(),
        }
        return self._etagged(request, body)

    def _merge_requests(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        state = request.param("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            return self._reply(400, {"error": "state does not have a valid value"})
        chosen = [mr for mr in project.merge_requests if state == "all" or mr["state"] == state]
        reverse = request.param("sort", "desc") == "desc"
        chosen.sort(key=lambda mr: mr["created_at"], reverse=reverse)
        # Lists carry no diff_refs: only the single merge request does.
        return self._page(request, [{k: v for k, v in mr.items() if k != "diff_refs"} for mr in chosen])

    def _merge_request(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        return self._reply(200, found[1])

    def _diffs(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None or not self.has_diffs_endpoint:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        return self._page(request, project.diffs.get(mr["iid"], []))

    def _changes(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        return self._reply(200, mr | {"changes": project.diffs.get(mr["iid"], []), "overflow": False})

    def _add_note(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        body = (request.json() or {}).get("body")
        if not body:
            return self._reply(400, {"message": '400 Bad request - Note {:note=>["can\'t be blank"]}'})
        note = self._note(project, mr, body, "MergeRequest")
        project.notes.setdefault(mr["iid"], []).append(note)
        return self._reply(201, note)

    def _add_discussion(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        sent = request.json() or {}
        position = sent.get("position") or {}
        refs = mr["diff_refs"]
        diffs = {d["new_path"]: d for d in project.diffs.get(mr["iid"], [])}
        valid = (
            position.get("position_type") == "text"
            and all(position.get(name) == refs[name] for name in ("base_sha", "start_sha", "head_sha"))
            and position.get("new_path") in diffs
            and isinstance(position.get("new_line"), int)
            and _line_code_valid(diffs[position["new_path"]]["diff"], position)
        )
        if not sent.get("body") or not valid:
            return self._reply(
                400,
                {"message": '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}'},
            )
        note = self._note(project, mr, sent["body"], "DiffNote") | {"position": position, "resolved": False}
        discussion = {
            "id": hashlib.sha256(json.dumps(note).encode()).hexdigest()[:40],
            "individual_note": False,
            "notes": [note],
        }
        project.discussions.setdefault(mr["iid"], []).append(discussion)
        return self._reply(201, discussion)

    def _update_note(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        note_id = int(request.match["note"])
        notes = project.notes.get(mr["iid"], []) + [
            n for d in project.discussions.get(mr["iid"], []) for n in d["notes"]
        ]
        note = next((n for n in notes if n["id"] == note_id), None)
        if note is None:
            return self._reply(404, {"message": "404 Note Not Found"})
        if note["author"]["username"] != self.user["username"]:
            return self._reply(403, {"message": "403 Forbidden"})
        body = (request.json() or {}).get("body")
        if not body:
            return self._reply(400, {"message": '400 Bad request - Note {:note=>["can\'t be blank"]}'})
        note["body"] = body
        note["updated_at"] = "2024-05-02T11:00:00.000Z"
        return self._reply(200, note)

    def _list_discussions(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        plain = [
            {"id": hashlib.sha256(str(n["id"]).encode()).hexdigest()[:40], "individual_note": True, "notes": [n]}
            for n in project.notes.get(mr["iid"], [])
        ]
        return self._page(request, plain + project.discussions.get(mr["iid"], []))

    def _award_emoji(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        note_id = int(request.match["note"])
        notes = [
            *project.notes.get(mr["iid"], []),
            *(n for d in project.discussions.get(mr["iid"], []) for n in d["notes"]),
        ]
        if not any(n["id"] == note_id for n in notes):
            return self._reply(404, {"message": "404 Note Not Found"})
        return self._page(request, project.awards.get(note_id, []))

    def _members(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        query = (request.param("query") or "").casefold()
        found = [m for m in project.members if query in m["username"].casefold() or query in m["name"].casefold()]
        return self._page(request, found)

    def _resolve_discussion(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        discussion = next(
            (d for d in project.discussions.get(mr["iid"], []) if d["id"] == request.match["discussion"]), None
        )
        if discussion is None:
            return self._reply(404, {"message": "404 Discussion Not Found"})
        resolved = request.param("resolved")
        if resolved not in ("true", "false"):
            return self._reply(400, {"error": "resolved is missing"})
        for note in discussion["notes"]:
            note["resolved"] = resolved == "true"
            note["resolved_by"] = {"username": self.user["username"]} if resolved == "true" else None
        return self._reply(200, discussion)

    def _update_merge_request(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        _, mr = found
        sent = request.json() or {}
        for label in (sent.get("add_labels") or "").split(","):
            if label.strip() and label.strip() not in mr["labels"]:
                mr["labels"].append(label.strip())
        return self._reply(200, mr)

    def _approve(self, request: FakeRequest) -> Answer:
        found = self._find_mr(request)
        if found is None:
            return self._reply(404, {"message": "404 Not found"})
        project, mr = found
        sha = (request.json() or {}).get("sha")
        if sha and sha != mr["diff_refs"]["head_sha"]:
            return self._reply(409, {"message": "SHA does not match HEAD of source branch"})
        if mr["author"]["username"] == self.user["username"]:
            return self._reply(401, {"message": "401 Unauthorized"})  # GitLab's answer to approving your own MR
        project.approvals.setdefault(mr["iid"], []).append({"user": self.user["username"], "sha": sha})
        return self._reply(201, {"id": mr["id"], "iid": mr["iid"], "approved": True})

    def _search(self, request: FakeRequest) -> Answer:
        if request.param("scope") != "blobs":
            return self._reply(400, {"error": "scope does not have a valid value"})
        term = (request.param("search") or "").lower()
        if "project" in (request.match.groupdict() if request.match else {}):
            project = self._find(request)
            if project is None:
                return self._reply(404, {"message": "404 Project Not Found"})
            projects = [project]
        else:
            projects = list(self.projects.values())
        blobs = []
        for project in projects:
            for path, content in sorted(project.files.get(project.default_branch, {}).items()):
                lines = content.decode(errors="replace").splitlines()
                for number, line in enumerate(lines, start=1):
                    if term and term in line.lower():
                        blobs.append(
                            {
                                "basename": path.rsplit(".", 1)[0],
                                "data": "\n".join(lines[number - 1 : number + 2]) + "\n",
                                "path": path,
                                "filename": path,
                                "id": None,
                                "ref": project.default_branch,
                                "startline": number,
                                "project_id": project.id,
                            }
                        )
                        break
        return self._page(request, blobs)

    def _commits(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        history = project.commits
        ref_name = request.param("ref_name")
        if ref_name and ".." in ref_name:
            base, head = ref_name.split("..", 1)
            start, stop = self._index(project, head), self._index(project, base)
            if start is None or stop is None:
                return self._reply(404, {"message": "404 Reference Not Found"})
            history = history[start:stop]
        elif ref_name:
            start = self._index(project, ref_name)
            if start is None:
                return self._reply(404, {"message": "404 Reference Not Found"})
            history = history[start:]
        path = request.param("path")
        since, until = request.param("since"), request.param("until")
        chosen = [
            c
            for c in history
            if (not path or path in c["_paths"])
            and (not since or _moment(c["committed_date"]) >= _moment(since))
            and (not until or _moment(c["committed_date"]) <= _moment(until))
        ]
        return self._page(request, [{k: v for k, v in c.items() if not k.startswith("_")} for c in chosen])

    def _tags(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        return self._page(request, project.tags)

    def _compare(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        base, head = request.param("from") or "", request.param("to") or ""
        start, stop = self._index(project, head), self._index(project, base)
        if start is None or stop is None:
            return self._reply(404, {"message": "404 Ref Not Found"})
        commits = [{k: v for k, v in c.items() if not k.startswith("_")} for c in project.commits[start:stop]][::-1]
        body = {
            "commit": commits[-1] if commits else None,  # the head: commits run oldest first
            "commits": commits,
            "diffs": project.compare_diffs.get(f"{base}...{head}", []),
            "compare_timeout": False,
            "compare_same_ref": base == head,
            "web_url": f"https://gitlab.example.com/{project.path}/-/compare/{base}...{head}",
        }
        return self._etagged(request, body)

    # --- shapes and paging -----------------------------------------------------------------------------------

    def _note(self, project: Project, mr: dict[str, Any], body: str, kind: str) -> dict[str, Any]:
        count = sum(len(v) for v in project.notes.values()) + sum(len(v) for v in project.discussions.values())
        return {
            "id": 5000 + count,
            "type": None if kind == "MergeRequest" else kind,
            "body": body,
            "author": {"id": self.user["id"], "username": self.user["username"], "name": self.user["name"]},
            "created_at": "2024-05-02T10:00:00.000Z",
            "system": False,
            "noteable_id": mr["id"],
            "noteable_type": "MergeRequest",
            "noteable_iid": mr["iid"],
            "resolvable": kind == "DiffNote",
        }

    def _page(self, request: FakeRequest, items: list[Any]) -> Answer:
        try:
            page = max(1, int(request.param("page", "1") or 1))
            per_page = min(self.max_per_page, max(1, int(request.param("per_page", "20") or 20)))
        except ValueError:
            return self._reply(400, {"error": "page is invalid"})
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        if self.link_header:
            links = [(page + 1, "next")] if page < pages else []
            links += [(1, "first"), (pages, "last")]
            headers["Link"] = ", ".join(f'<{self._page_url(request, n)}>; rel="{rel}"' for n, rel in links)
        return self._reply(200, chunk, headers)

    def _page_url(self, request: FakeRequest, page: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"} | {"page": [str(page)]}
        return f"{self.url}{request.path}?{urlencode(query, doseq=True)}"

    def _etagged(self, request: FakeRequest, body: Any) -> Answer:
        etag = 'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1
            return 304, None, {"ETag": etag} | self._rate_headers()
        return self._reply(200, body, {"ETag": etag})

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
        return status, body, self._rate_headers() | (headers or {})

    def _rate_headers(self) -> dict[str, str]:
        reset = int(time.time()) + self.rate_reset_in_s
        return {
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": str(2000 - self.rate_remaining),
            "RateLimit-Remaining": str(self.rate_remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(reset)),
        }

    def _create_release(self, request: FakeRequest) -> Answer:
        project = self._find(request)
        if project is None:
            return self._reply(404, {"message": "404 Project Not Found"})
        data = request.json() or {}
        tag = data.get("tag_name")
        if not tag:
            return self._reply(400, {"error": "tag_name is missing"})
        if any(r["tag_name"] == tag for r in project.releases):
            return self._reply(409, {"message": "Release already exists"})
        if tag not in project.refs and not data.get("ref"):
            return self._reply(422, {"message": "Ref is not specified"})
        web = f"https://gitlab.example.com/{project.path}"
        release = {
            "name": data.get("name") or tag,
            "tag_name": tag,
            "description": data.get("description") or "",
            "created_at": "2024-01-01T00:00:00.000Z",
            "released_at": "2024-01-01T00:00:00.000Z",
            "author": {"id": self.user["id"], "username": self.user["username"], "name": self.user["name"]},
            "commit": {"id": project.refs.get(tag) or data.get("ref")},
            "_links": {"self": f"{web}/-/releases/{tag}"},
        }
        project.releases.append(release)
        return self._reply(201, release)

    def _find(self, request: FakeRequest) -> Project | None:
        key = unquote(request.match["project"]) if request.match else ""
        if key.isdigit():
            return next((p for p in self.projects.values() if p.id == int(key)), None)
        return self.projects.get(key)

    def _find_mr(self, request: FakeRequest) -> tuple[Project, dict[str, Any]] | None:
        project = self._find(request)
        if project is None:
            return None
        iid = int(request.match["iid"])
        mr = next((m for m in project.merge_requests if m["iid"] == iid), None)
        return (project, mr) if mr else None

    def _index(self, project: Project, ref: str) -> int | None:
        sha = project.refs.get(ref, ref)
        return next((i for i, c in enumerate(project.commits) if c["id"] == sha), None)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _line_code_valid(hunks: str, position: dict[str, Any]) -> bool:
    """Whether the position names a line the diff shows: an added line by its new number alone, an unchanged
    line by both its numbers (GitLab's line_code needs them), a removed line by its old number."""
    added: set[int] = set()
    unchanged: set[tuple[int, int]] = set()
    old = new = 0
    for raw in hunks.splitlines():
        if raw.startswith("@@"):
            head = raw.split("@@")[1].split()
            old, new = int(head[0][1:].split(",")[0]), int(head[1][1:].split(",")[0])
        elif raw.startswith("+"):
            added.add(new)
            new += 1
        elif raw.startswith("-"):
            old += 1
        elif not raw.startswith("\\"):
            unchanged.add((old, new))
            old, new = old + 1, new + 1
    line, old_line = position.get("new_line"), position.get("old_line")
    return (old_line is None and line in added) or (old_line, line) in unchanged
