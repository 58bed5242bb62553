"""One pull request on each platform's fake, as its webhooks and API show it: a base commit, a first head that
adds code to `app/cache.py`, and a second push that rewrites one of the commented lines and inserts one above
the others. Each scenario knows how to seed its fake, push, sign its platform's delivery, and read back what
the bot left on the pull request."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes import bitbucket_server as bb
from tests.fakes import gitlab_server as gl
from tests.fakes.github_data import FakePull, changed_file
from tests.fakes.github_server import FakeGitHub
from tests.review.diffs import file_diff_text

PATH = "app/cache.py"
BASE_TEXT = '''"""A small cache."""

CACHE = {}


def put(key, value):
    CACHE[key] = value


def get(key):
    return CACHE[key]


def size():
    return len(CACHE)
'''
FIRST_TEXT = BASE_TEXT.replace(
    "    return CACHE[key]\n", '    value = CACHE.get(key)\n    log("read", key)\n    return value\n'
)  # adds lines 11-13
SECOND_TEXT = FIRST_TEXT.replace("CACHE = {}\n", "CACHE = {}\nMISSING = object()\n").replace(
    "CACHE.get(key)", "CACHE.get(key, MISSING)"
)  # line 11 rewritten (now 12), line 12 moved to 13
REWRITTEN_TEXT = BASE_TEXT.replace(
    "    return CACHE[key]\n", '    log("read", key)\n    return CACHE.get(key, None)\n'
)  # the branch rewritten on the base: the log line is now line 11, line 12 is new, the first head's line 11 is gone
RULES = """[review]
disable = ["security", "performance", "maintainability", "business_logic"]

[review.approval]
request_changes = true
block_on = "high"

[review.labels]
enabled = true
prefix = "review/"
by_severity = { high = "needs-fix" }
change_type = true
"""
TITLE = "fix: cache reads of missing keys"
AUTHOR = "grace"


def hunks_of(diff_text: str) -> str:
    """A file's diff without its headers, as GitHub's `patch` and GitLab's `diff` carry it."""
    return diff_text[diff_text.index("@@") :]


def sha(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


BASE, FIRST, SECOND, REWRITTEN = sha("base"), sha("first"), sha("second"), sha("rewritten")


@dataclass
class LineComment:
    id: str
    path: str
    line: int | None
    body: str
    done: bool  # resolved, or (GitHub without GraphQL, or ignored there) edited as outdated


class Scenario:
    platform: str
    number: int
    credentials: dict[str, str]

    def start(self) -> Any: ...

    def stop(self) -> None:
        self.fake.stop()

    @property
    def url(self) -> str:
        return self.fake.url

    def seed(self) -> None: ...

    def push(self) -> None: ...

    def force_push(self) -> None:
        """The branch rewritten on the base (REWRITTEN_TEXT): the reviewed head is no longer its ancestor."""
        ...

    def delivery(self, secret: str, *, pushed: bool) -> tuple[dict[str, str], bytes]: ...

    def comment_delivery(self, secret: str, text: str, *, by: str, comment_id: int) -> tuple[dict[str, str], bytes]:
        """A new comment on the pull request, as the platform's webhook announces it."""
        ...

    def notes(self) -> list[str]:
        """The texts of the top-level comments on the pull request."""
        ...

    def summaries(self) -> list[tuple[str, str]]:
        """(id, body) of every top-level comment carrying the summary marker."""
        ...

    def line_comments(self) -> list[LineComment]: ...

    def labels(self) -> list[str]: ...

    def reviews(self) -> list[str]:
        """Approvals and change requests, as the platform recorded them."""
        ...


def _signed(secret: str, body: dict[str, Any]) -> tuple[bytes, str]:
    data = json.dumps(body).encode()
    return data, "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


class GitHubScenario(Scenario):
    platform = "github"
    number = 7

    def __init__(self) -> None:
        self.fake = FakeGitHub(refuse_own_reviews=True)
        self.credentials = {"token": self.fake.token or ""}

    def start(self) -> GitHubScenario:
        self.fake.start()
        return self

    def seed(self) -> None:
        repo = self.fake.add_repo("acme/shop")
        repo.add_file(".adjutant.toml", RULES)
        repo.add_file(PATH, BASE_TEXT)
        self.base = repo.add_commit("base", files=(PATH,))
        self.first = repo.add_commit("read with get", files=(PATH,))
        pull = FakePull(self.number, TITLE, "fix-cache", self.first, base_sha=self.base, author=AUTHOR)
        self._set(pull, FIRST_TEXT)
        repo.pulls[self.number] = pull
        self.repo = repo

    def push(self) -> None:
        self.second = self.repo.add_commit("a sentinel for missing keys", files=(PATH,))
        pull = self.repo.pulls[self.number]
        pull.head_sha = self.second
        self._set(pull, SECOND_TEXT)
        patch = hunks_of(file_diff_text(PATH, FIRST_TEXT, SECOND_TEXT))
        self.repo.compare_files[f"{self.first}...{self.second}"] = [changed_file(PATH, patch=patch, additions=2)]

    def force_push(self) -> None:
        self.repo.add_file(PATH, FIRST_TEXT, ref=self.first)  # the old head stays readable, as on GitHub
        self.second = self.repo.add_commit("cache reads, rewritten", files=(PATH,))
        self.repo.commits[0]["parents"] = [self.base]
        pull = self.repo.pulls[self.number]
        pull.head_sha = self.second
        self._set(pull, REWRITTEN_TEXT)

    def _set(self, pull: FakePull, text: str) -> None:
        diff = file_diff_text(PATH, BASE_TEXT, text)
        pull.diff = diff
        pull.files = [changed_file(PATH, patch=hunks_of(diff), additions=3, deletions=1)]

    def delivery(self, secret: str, *, pushed: bool) -> tuple[dict[str, str], bytes]:
        pull = self.repo.pulls[self.number]
        body = {
            "action": "synchronize" if pushed else "opened",
            "number": self.number,
            "pull_request": {
                "number": self.number,
                "state": "open",
                "draft": False,
                "title": TITLE,
                "user": {"login": AUTHOR},
                "head": {"sha": pull.head_sha, "ref": pull.head_ref},
                "base": {"sha": pull.base_sha, "ref": "main"},
            },
            "repository": {"full_name": "acme/shop", "name": "shop", "owner": {"login": "acme"}},
            "sender": {"login": AUTHOR},
        } | ({"before": self.first, "after": pull.head_sha} if pushed else {})
        data, signature = _signed(secret, body)
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
        }
        return headers, data

    def comment_delivery(self, secret: str, text: str, *, by: str, comment_id: int) -> tuple[dict[str, str], bytes]:
        issue = {"number": self.number, "title": TITLE, "user": {"login": AUTHOR}}
        issue["pull_request"] = {"url": f"{self.url}/api/v3/repos/acme/shop/pulls/{self.number}"}
        body = {
            "action": "created",
            "issue": issue,
            "comment": {"id": comment_id, "body": text, "user": {"login": by}},
            "repository": {"full_name": "acme/shop", "name": "shop"},
            "sender": {"login": by},
        }
        data, signature = _signed(secret, body)
        headers = {
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
        }
        return headers, data

    def notes(self) -> list[str]:
        return [c["body"] for c in self.repo.comments.get(self.number, [])]

    def summaries(self) -> list[tuple[str, str]]:
        return [
            (str(c["id"]), c["body"])
            for c in self.repo.comments.get(self.number, [])
            if "adjutant:summary" in c["body"]
        ]

    def line_comments(self) -> list[LineComment]:
        pull = self.repo.pulls[self.number]
        return [
            LineComment(
                str(c["id"]),
                c["path"],
                c["line"],
                c["body"],
                c["id"] in pull.resolved_threads or "Outdated:" in c["body"] or "Ignored by" in c["body"],
            )
            for c in pull.review_comments
        ]

    def labels(self) -> list[str]:
        return list(self.repo.pulls[self.number].labels)

    def reviews(self) -> list[str]:
        return [r["state"] for r in self.repo.pulls[self.number].reviews if r["state"] != "COMMENTED"]


class GitLabScenario(Scenario):
    platform = "gitlab"
    number = 5

    def __init__(self) -> None:
        self.fake = gl.FakeGitLab()
        self.credentials = {"token": gl.TOKEN}

    def start(self) -> GitLabScenario:
        self.fake.start()
        return self

    def seed(self) -> None:
        project = self.fake.add_project("acme/shop")
        project.files["main"] = {".adjutant.toml": RULES.encode(), PATH: BASE_TEXT.encode()}
        project.commits = [
            gl.commit(project, FIRST, "read with get", "2024-05-02T10:00:00Z", parents=(BASE,), paths=(PATH,)),
            gl.commit(project, BASE, "base", "2024-05-01T10:00:00Z", paths=(PATH,)),
        ]
        mr = gl.merge_request(project, self.number, TITLE, author=AUTHOR, head_sha=FIRST, base_sha=BASE)
        project.merge_requests.append(mr)
        project.diffs[self.number] = [gl.diff(PATH, hunks=hunks_of(file_diff_text(PATH, BASE_TEXT, FIRST_TEXT)))]
        self.project, self.mr = project, mr

    def push(self) -> None:
        project = self.project
        project.commits.insert(
            0, gl.commit(project, SECOND, "a sentinel", "2024-05-03T10:00:00Z", parents=(FIRST,), paths=(PATH,))
        )
        self.mr["sha"] = SECOND
        self.mr["diff_refs"] = self.mr["diff_refs"] | {"head_sha": SECOND}
        project.diffs[self.number] = [gl.diff(PATH, hunks=hunks_of(file_diff_text(PATH, BASE_TEXT, SECOND_TEXT)))]
        since = hunks_of(file_diff_text(PATH, FIRST_TEXT, SECOND_TEXT))
        project.compare_diffs[f"{FIRST}...{SECOND}"] = [gl.diff(PATH, hunks=since)]

    def force_push(self) -> None:
        project = self.project
        project.files[FIRST] = {PATH: FIRST_TEXT.encode()}
        project.commits = [c for c in project.commits if c["id"] != FIRST]  # gone: comparing with it is a 404
        project.commits.insert(
            0, gl.commit(project, REWRITTEN, "rewritten", "2024-05-03T10:00:00Z", parents=(BASE,), paths=(PATH,))
        )
        self.mr["sha"] = REWRITTEN
        self.mr["diff_refs"] = self.mr["diff_refs"] | {"head_sha": REWRITTEN}
        hunks = hunks_of(file_diff_text(PATH, BASE_TEXT, REWRITTEN_TEXT))
        project.diffs[self.number] = [gl.diff(PATH, hunks=hunks)]

    def delivery(self, secret: str, *, pushed: bool) -> tuple[dict[str, str], bytes]:
        attributes = {
            "id": self.mr["id"],
            "iid": self.number,
            "title": TITLE,
            "state": "opened",
            "draft": False,
            "work_in_progress": False,
            "action": "update" if pushed else "open",
            "source_branch": "feature",
            "target_branch": "main",
            "last_commit": {"id": self.mr["sha"], "message": "latest"},
        } | ({"oldrev": FIRST} if pushed else {})
        body = {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": {"id": 9, "username": AUTHOR, "name": "Grace"},
            "project": {"id": self.project.id, "path_with_namespace": "acme/shop"},
            "object_attributes": attributes,
            "labels": [],
            "changes": {},
        }
        headers = {
            "X-Gitlab-Event": "Merge Request Hook",
            "X-Gitlab-Token": secret,
            "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        }
        return headers, json.dumps(body).encode()

    def comment_delivery(self, secret: str, text: str, *, by: str, comment_id: int) -> tuple[dict[str, str], bytes]:
        attributes = {"id": comment_id, "note": text, "noteable_type": "MergeRequest", "system": False}
        body = {
            "object_kind": "note",
            "event_type": "note",
            "user": {"id": 11, "username": by, "name": by.title()},
            "project": {"id": self.project.id, "path_with_namespace": "acme/shop"},
            "object_attributes": attributes | {"discussion_id": "d" * 40},
            "merge_request": {"id": self.mr["id"], "iid": self.number, "title": TITLE},
        }
        headers = {"X-Gitlab-Event": "Note Hook", "X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": str(uuid.uuid4())}
        return headers, json.dumps(body).encode()

    def notes(self) -> list[str]:
        return [n["body"] for n in self.project.notes.get(self.number, [])]

    def summaries(self) -> list[tuple[str, str]]:
        return [
            (str(n["id"]), n["body"])
            for n in self.project.notes.get(self.number, [])
            if "adjutant:summary" in n["body"]
        ]

    def line_comments(self) -> list[LineComment]:
        found = []
        for discussion in self.project.discussions.get(self.number, []):
            note = discussion["notes"][0]
            position = note["position"]
            found.append(
                LineComment(
                    str(note["id"]),
                    position["new_path"],
                    position["new_line"],
                    note["body"],
                    bool(note.get("resolved")),
                )
            )
        return found

    def labels(self) -> list[str]:
        return list(self.mr["labels"])

    def reviews(self) -> list[str]:
        return ["APPROVED" for _ in self.project.approvals.get(self.number, [])]


class BitbucketScenario(Scenario):
    platform = "bitbucket"
    number = 9

    def __init__(self) -> None:
        self.fake = bb.FakeBitbucket()
        self.credentials = {"token": bb.TOKEN}

    def start(self) -> BitbucketScenario:
        self.fake.start()
        return self

    def seed(self) -> None:
        repository = self.fake.add_repository("acme/shop", refs={"main": BASE})
        repository.files[BASE] = {".adjutant.toml": RULES.encode(), PATH: BASE_TEXT.encode()}
        repository.commits = [
            bb.commit(repository, FIRST, "read with get", "2024-05-02T10:00:00+00:00", parents=(BASE,), paths=(PATH,)),
            bb.commit(repository, BASE, "base", "2024-05-01T10:00:00+00:00", paths=(PATH,)),
        ]
        pr = bb.pull_request(
            repository, self.number, TITLE, source_hash=FIRST[:12], destination_hash=BASE[:12], author=AUTHOR
        )
        repository.pull_requests.append(pr)
        repository.diffstat[self.number] = [
            {"status": "modified", "old": {"path": PATH}, "new": {"path": PATH}, "lines_added": 3, "lines_removed": 1}
        ]
        repository.diffs[self.number] = file_diff_text(PATH, BASE_TEXT, FIRST_TEXT)
        self.repository, self.pr = repository, pr

    def push(self) -> None:
        repository = self.repository
        repository.commits.insert(
            0, bb.commit(repository, SECOND, "a sentinel", "2024-05-03T10:00:00+00:00", parents=(FIRST,), paths=(PATH,))
        )
        self.pr["source"]["commit"]["hash"] = SECOND[:12]
        repository.diffs[self.number] = file_diff_text(PATH, BASE_TEXT, SECOND_TEXT)
        spec = f"{SECOND[:12]}..{FIRST[:12]}"
        repository.spec_diffstat[spec] = repository.diffstat[self.number]
        repository.spec_diffs[spec] = file_diff_text(PATH, FIRST_TEXT, SECOND_TEXT)

    def delivery(self, secret: str, *, pushed: bool) -> tuple[dict[str, str], bytes]:
        body = {
            "pullrequest": {
                "type": "pullrequest",
                "id": self.number,
                "title": TITLE,
                "state": "OPEN",
                "draft": False,
                "author": self.pr["author"],
                "source": self.pr["source"],
                "destination": self.pr["destination"],
                "links": self.pr["links"],
            },
            "repository": {"type": "repository", "full_name": "acme/shop", "name": "shop"},
            "actor": self.pr["author"],
        }
        data, signature = _signed(secret, body)
        headers = {
            "X-Event-Key": "pullrequest:updated" if pushed else "pullrequest:created",
            "X-Request-UUID": str(uuid.uuid4()),
            "X-Hub-Signature": signature,
        }
        return headers, data

    def comment_delivery(self, secret: str, text: str, *, by: str, comment_id: int) -> tuple[dict[str, str], bytes]:
        user = {"type": "user", "display_name": by.title(), "nickname": by, "account_id": f"557058:{by}"}
        body = {
            "comment": {"id": comment_id, "type": "pullrequest_comment", "content": {"raw": text}, "user": user},
            "pullrequest": {"id": self.number, "title": TITLE, "state": "OPEN", "author": self.pr["author"]},
            "repository": {"type": "repository", "full_name": "acme/shop"},
            "actor": user,
        }
        data, signature = _signed(secret, body)
        headers = {
            "X-Event-Key": "pullrequest:comment_created",
            "X-Request-UUID": str(uuid.uuid4()),
            "X-Hub-Signature": signature,
        }
        return headers, data

    def notes(self) -> list[str]:
        return [c["content"]["raw"] for c in self.repository.comments.get(self.number, []) if not c.get("inline")]

    def summaries(self) -> list[tuple[str, str]]:
        comments = self.repository.comments.get(self.number, [])
        return [(str(c["id"]), c["content"]["raw"]) for c in comments if "adjutant:summary" in c["content"]["raw"]]

    def line_comments(self) -> list[LineComment]:
        return [
            LineComment(
                str(c["id"]),
                c["inline"]["path"],
                c["inline"]["to"],
                c["content"]["raw"],
                c.get("resolution") is not None,
            )
            for c in self.repository.comments.get(self.number, [])
            if c.get("inline")
        ]

    def labels(self) -> list[str]:
        return []

    def reviews(self) -> list[str]:
        states = {"approved": "APPROVED", "changes_requested": "CHANGES_REQUESTED"}
        return [states[p["state"]] for p in self.repository.participants.get(self.number, [])]


SCENARIOS = {"github": GitHubScenario, "gitlab": GitLabScenario, "bitbucket": BitbucketScenario}
