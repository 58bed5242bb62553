"""The Bitbucket Cloud client against a loopback Bitbucket speaking REST 2.0: every method, `next`-URL
pagination, the pull request redirects (followed on the same origin only), the error and rate-limit paths
through the Redis-shared limiter, and credentials kept out of errors and logs."""

from __future__ import annotations

import base64
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.bitbucket import BitbucketClient
from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.runtime import IntegrationRuntime
from app.integrations.scm import ScmClient
from tests.fakes.bitbucket_server import (
    APP_PASSWORD,
    TOKEN,
    USERNAME,
    FakeBitbucket,
    Repository,
    commit,
    error_body,
    pull_request,
)
from tests.integrations.conftest import connection

REPO = "acme/api"
MAIN, FEATURE, OLD = "a3" * 20, "a2" * 20, "a1" * 20
APP_PY = b"def main():\n    return call_upstream()\n"
DIFF = (
    "diff --git a/src/app.py b/src/app.py\nindex 1a2b3c4..5d6e7f8 100644\n--- a/src/app.py\n+++ b/src/app.py\n"
    "@@ -1,2 +1,2 @@\n def main():\n-    return 'old'\n+    return call_upstream()\n"
    "diff --git a/src/new.py b/src/new.py\nnew file mode 100644\nindex 0000000..9e8d7c6\n--- /dev/null\n"
    "+++ b/src/new.py\n@@ -0,0 +1 @@\n+import os\n"
    "diff --git a/assets/logo.png b/assets/logo.png\nindex 3c4d5e6..7f8a9b0 100644\n"
    "Binary files a/assets/logo.png and b/assets/logo.png differ\n"
    "diff --git a/docs/old-notes.md b/docs/notes.md\nsimilarity index 92%\nrename from docs/old-notes.md\n"
    "rename to docs/notes.md\n--- a/docs/old-notes.md\n+++ b/docs/notes.md\n@@ -1 +1 @@\n-# Old notes\n+# Notes\n"
    "diff --git a/src/legacy.py b/src/legacy.py\ndeleted file mode 100644\n--- a/src/legacy.py\n+++ /dev/null\n"
    "@@ -1 +0,0 @@\n-legacy = True\n"
)


def stat(status: str, old: str | None, new: str | None, added: int, removed: int) -> dict:
    return {
        "type": "diffstat",
        "status": status,
        "lines_added": added,
        "lines_removed": removed,
        "old": None if old is None else {"path": old, "type": "commit_file"},
        "new": None if new is None else {"path": new, "type": "commit_file"},
    }


def seed(fake: FakeBitbucket) -> Repository:
    repository = fake.add_repository(REPO)
    repository.refs = {"main": MAIN, "feature/retry": FEATURE}
    repository.tag_refs = {"v1.0": OLD}
    repository.files = {
        MAIN: {"src/app.py": APP_PY, "README.md": b"# API\nSee call_upstream.\n", "config/app.json": b'{"a": 1}\n'},
        FEATURE: {"src/app.py": b"def main():\n    return 'old'\n"},
    }
    repository.commits = [
        commit(
            repository,
            MAIN,
            "Call upstream\n\nDetails.",
            "2024-05-03T12:00:00+00:00",
            parents=(FEATURE,),
            paths=("src/app.py",),
        ),
        commit(
            repository,
            FEATURE,
            "Add README",
            "2024-05-02T12:00:00+00:00",
            parents=(OLD,),
            paths=("README.md",),
            author="someone@example.com",
            nickname=None,
        ),
        commit(repository, OLD, "Initial commit", "2024-05-01T12:00:00+00:00", paths=("src/app.py", "README.md")),
    ]
    repository.tags = [
        {
            "type": "tag",
            "name": "v1.1",
            "message": "Second release\n",
            "date": "2024-05-02T13:00:00+00:00",
            "target": {"type": "commit", "hash": FEATURE, "date": "2024-05-02T12:00:00+00:00"},
            "links": {"html": {"href": "https://bitbucket.org/acme/api/commits/tag/v1.1"}},
        },
        {
            "type": "tag",
            "name": "v1.0",
            "message": None,
            "date": None,
            "target": {"type": "commit", "hash": OLD, "date": "2024-05-01T12:00:00+00:00"},
            "links": {},
        },
    ]
    states = {1: "OPEN", 2: "MERGED", 3: "DECLINED", 4: "OPEN", 5: "SUPERSEDED", 6: "OPEN"}
    repository.pull_requests = [
        pull_request(
            repository,
            n,
            f"Change {n}",
            state=states[n],
            draft=n == 4,
            created_on=f"2024-05-0{n}T10:00:00.000000+00:00",
        )
        for n in range(1, 7)
    ]
    repository.diffstat[6] = [
        stat("modified", "src/app.py", "src/app.py", 1, 1),
        stat("added", None, "src/new.py", 1, 0),
        stat("modified", "assets/logo.png", "assets/logo.png", 0, 0),
        stat("renamed", "docs/old-notes.md", "docs/notes.md", 1, 1),
        stat("removed", "src/legacy.py", None, 0, 1),
        stat("merge conflict", "setup.cfg", "setup.cfg", 0, 0),
    ]
    repository.diffs[6] = DIFF
    return repository


@pytest.fixture
def bitbucket() -> Iterator[FakeBitbucket]:
    with FakeBitbucket() as fake:
        seed(fake)
        yield fake


@pytest_asyncio.fixture
async def make_client(runtime: IntegrationRuntime) -> AsyncIterator[Callable[..., BitbucketClient]]:
    clients: list[BitbucketClient] = []

    def make(fake: FakeBitbucket, *, credentials=None, info: ConnectionInfo | None = None, on=None, **options):
        info = info or connection("bitbucket", fake.url, credentials or {"token": TOKEN}, **options)
        client = BitbucketClient(info, on or runtime)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


BASIC = {"username": USERNAME, "password": APP_PASSWORD}


# --- identity ---------------------------------------------------------------------------------------------------


async def test_identity_reports_the_account_and_the_token_scopes(bitbucket, make_client):
    identity = await make_client(bitbucket).identity()
    assert identity.login == "ada" and identity.name == "Ada Lovelace"
    assert identity.scopes == ["pullrequest:write", "repository"]
    assert "557058:ada" in identity.detail
    assert bitbucket.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_identity_with_an_app_password_uses_basic_auth(bitbucket, make_client):
    identity = await make_client(bitbucket, credentials=BASIC).identity()
    assert identity.login == "ada" and identity.scopes == []
    assert "did not list" in identity.detail
    expected = "Basic " + base64.b64encode(f"{USERNAME}:{APP_PASSWORD}".encode()).decode()
    assert bitbucket.requests[0].headers["authorization"] == expected


async def test_an_access_token_is_described_by_what_it_sees_of_its_workspace(bitbucket, make_client):
    bitbucket.access_token_mode = True
    bitbucket.add_repository("acme/web", is_private=False)
    bitbucket.add_repository("other/thing")
    identity = await make_client(bitbucket, workspace="acme").identity()
    assert identity.login == "acme (access token)" and identity.scopes == ["pullrequest:write", "repository"]
    assert "sees 2 repositories (1 private)" in identity.detail and "acme/api, acme/web" in identity.detail
    assert [r.path for r in bitbucket.requests] == ["/2.0/user", "/2.0/repositories/acme"]


async def test_an_access_token_without_a_workspace_says_what_to_set(bitbucket, make_client):
    bitbucket.access_token_mode = True
    with pytest.raises(IntegrationAuthFailed, match="set the connection's workspace option"):
        await make_client(bitbucket).identity()


async def test_a_connection_without_credentials_is_refused_up_front(bitbucket, runtime):
    with pytest.raises(IntegrationAuthFailed, match="neither an access token nor a username"):
        BitbucketClient(connection("bitbucket", bitbucket.url, {"username": USERNAME}), runtime)


# --- files ------------------------------------------------------------------------------------------------------


async def test_get_file_reads_the_main_branch(bitbucket, make_client):
    file = await make_client(bitbucket).get_file(REPO, "src/app.py")
    assert file.text == APP_PY.decode() and file.size == len(APP_PY) and not file.truncated
    assert file.ref == "main" and file.url == f"{bitbucket.url}/{REPO}/src/main/src/app.py"
    assert [r.path for r in bitbucket.requests] == [
        "/2.0/repositories/acme/api",
        "/2.0/repositories/acme/api/src/main/src/app.py",
    ]


async def test_get_file_on_a_branch_with_a_slash_reads_its_commit(bitbucket, make_client):
    file = await make_client(bitbucket).get_file(REPO, "src/app.py", ref="feature/retry")
    assert file.text == "def main():\n    return 'old'\n" and file.ref == "feature/retry"
    assert bitbucket.requests[0].path == "/2.0/repositories/acme/api/refs/branches/feature/retry"
    assert bitbucket.requests[1].path == f"/2.0/repositories/acme/api/src/{FEATURE}/src/app.py"


async def test_get_file_is_cut_a_json_file_is_text_and_a_directory_is_refused(bitbucket, make_client):
    client = make_client(bitbucket)
    cut = await client.get_file(REPO, "src/app.py", ref="main", max_bytes=11)
    assert cut.text == "def main():" and cut.truncated and cut.size == len(APP_PY)
    assert (await client.get_file(REPO, "config/app.json", ref="main")).text == '{"a": 1}\n'
    with pytest.raises(IntegrationRejected, match="is a directory"):
        await client.get_file(REPO, "src", ref="main")
    with pytest.raises(IntegrationNotFound, match="No such file"):
        await client.get_file(REPO, "nope.py", ref="main")


async def test_the_main_branch_is_revalidated_with_its_etag(bitbucket, make_client):
    client = make_client(bitbucket)
    await client.get_file(REPO, "src/app.py")
    await client.get_file(REPO, "README.md")
    assert bitbucket.not_modified == 1 and bitbucket.requests[2].headers["if-none-match"]


async def test_file_paths_that_climb_out_are_refused_without_a_call(bitbucket, make_client):
    client = make_client(bitbucket)
    for path in ("../../pullrequests", "src/../../x", ""):
        with pytest.raises(IntegrationRejected, match="not a file path"):
            await client.get_file(REPO, path, ref="main")
    for repo in ("acme", "acme/api/extra", "acme/..", "ac me/api"):
        with pytest.raises(IntegrationRejected, match="not a Bitbucket repository"):
            await client.list_pull_requests(repo)
    assert bitbucket.requests == []


# --- pull requests ----------------------------------------------------------------------------------------------


async def test_list_pull_requests_maps_states_and_follows_next_pages(bitbucket, make_client):
    bitbucket.page_cap = 2
    found = await make_client(bitbucket).list_pull_requests(REPO, limit=3)
    assert [(pr.number, pr.state) for pr in found] == [(6, "open"), (4, "draft"), (1, "open")]
    first, second = bitbucket.requests
    assert first.query["state"] == ["OPEN"] and first.query["sort"] == ["-created_on"]
    assert first.query["pagelen"] == ["3"] and second.query["page"] == ["2"]
    pr = found[0]
    assert pr.author == "ada" and pr.source_branch == "feature/retry" and pr.target_branch == "main"
    assert pr.head_sha == "9f2c4a1b7e5d" and pr.base_sha == "0a1b2c3d4e5f"
    assert pr.url == "https://bitbucket.org/acme/api/pull-requests/6"


@pytest.mark.parametrize(
    ("state", "sent", "numbers"),
    [
        ("closed", ["DECLINED", "SUPERSEDED"], [5, 3]),
        ("merged", ["MERGED"], [2]),
        ("all", ["OPEN", "MERGED", "DECLINED", "SUPERSEDED"], [6, 5, 4, 3, 2, 1]),
    ],
)
async def test_list_pull_requests_by_state(bitbucket, make_client, state, sent, numbers):
    found = await make_client(bitbucket).list_pull_requests(REPO, state=state, limit=100)
    assert bitbucket.requests[0].query["state"] == sent
    assert bitbucket.requests[0].query["pagelen"] == ["50"], "Bitbucket refuses more than 50 pull requests a page"
    assert [pr.number for pr in found] == numbers
    assert {pr.state for pr in found if pr.number in (3, 5)} <= {"closed"}


async def test_get_pull_request_has_diffstat_files_with_patches_through_the_redirects(bitbucket, make_client):
    bitbucket.page_cap = 4
    pr = await make_client(bitbucket).get_pull_request(REPO, 6)
    assert pr.title == "Change 6" and pr.state == "open"
    assert [(f.path, f.status, f.previous_path, f.additions, f.deletions) for f in pr.files] == [
        ("src/app.py", "modified", None, 1, 1),
        ("src/new.py", "added", None, 1, 0),
        ("assets/logo.png", "modified", None, 0, 0),
        ("docs/notes.md", "renamed", "docs/old-notes.md", 1, 1),
        ("src/legacy.py", "removed", None, 0, 1),
        ("setup.cfg", "changed", None, 0, 0),
    ]
    patches = {f.path: f.patch for f in pr.files}
    assert patches["src/app.py"] == "@@ -1,2 +1,2 @@\n def main():\n-    return 'old'\n+    return call_upstream()\n"
    assert patches["src/legacy.py"] == "@@ -1 +0,0 @@\n-legacy = True\n"
    assert patches["assets/logo.png"] is None and patches["setup.cfg"] is None
    paths = [r.path for r in bitbucket.requests]
    assert "/2.0/repositories/acme/api/pullrequests/6/diffstat" in paths
    spec = "acme/api:9f2c4a1b7e5d%0D0a1b2c3d4e5f"
    assert paths.count(f"/2.0/repositories/acme/api/diffstat/{spec}") == 2, "the redirect, then its next page"
    assert f"/2.0/repositories/acme/api/diff/{spec}" in paths


async def test_get_pull_request_respects_max_files(bitbucket, make_client):
    pr = await make_client(bitbucket).get_pull_request(REPO, 6, max_files=2)
    assert [f.path for f in pr.files] == ["src/app.py", "src/new.py"] and pr.files[
        1
    ].patch == "@@ -0,0 +1 @@\n+import os\n"


async def test_pull_request_diff_follows_the_same_origin_redirect_and_is_cut_on_a_line(bitbucket, make_client):
    client = make_client(bitbucket)
    assert await client.get_pull_request_diff(REPO, 6) == DIFF
    cut = await client.get_pull_request_diff(REPO, 6, max_bytes=100)
    assert cut == "diff --git a/src/app.py b/src/app.py\nindex 1a2b3c4..5d6e7f8 100644\n--- a/src/app.py\n"
    redirected = bitbucket.seen("GET", "/diff/")[0]
    assert redirected.query == {"from_pullrequest_id": ["6"], "topic": ["true"]}
    assert redirected.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_redirect_to_another_host_is_not_followed(bitbucket, make_client):
    with FakeBitbucket() as elsewhere:
        bitbucket.redirect_base = elsewhere.url.replace("127.0.0.1", "localhost")
        with pytest.raises(IntegrationUnavailable, match=r"redirected to another host \(localhost\); not followed"):
            await make_client(bitbucket).get_pull_request_diff(REPO, 6)
        assert elsewhere.requests == [], "the credentials never went to the other host"


async def test_comments_on_a_pull_request_and_on_a_line(bitbucket, make_client):
    client = make_client(bitbucket)
    url = await client.comment_on_pull_request(REPO, 6, "Looks good")
    assert url == "https://bitbucket.org/acme/api/pull-requests/6#comment-700"
    line_url = await client.comment_on_line(REPO, 6, path="src/app.py", line=2, body="Why?", commit_sha="abc")
    assert line_url.endswith("#comment-701")
    top, inline = (r.json() for r in bitbucket.seen("POST", "/comments$"))
    assert top == {"content": {"raw": "Looks good"}}
    assert inline == {"content": {"raw": "Why?"}, "inline": {"path": "src/app.py", "to": 2}}
    with pytest.raises(IntegrationRejected, match="not part of this pull request"):
        await client.comment_on_line(REPO, 6, path="elsewhere.py", line=1, body="x")
    with pytest.raises(IntegrationRejected, match="empty comment"):
        await client.comment_on_pull_request(REPO, 6, " ")
    assert len(bitbucket.seen("POST")) == 3


# --- search, commits, tags --------------------------------------------------------------------------------------


async def test_search_code_in_a_repository(bitbucket, make_client):
    hits = await make_client(bitbucket).search_code("call_upstream", repo=REPO)
    assert [(h.repo, h.path) for h in hits] == [(REPO, "README.md"), (REPO, "src/app.py")]
    assert hits[1].url == f"{bitbucket.url}/{REPO}/src/{MAIN}/src/app.py#lines-2"
    assert hits[1].fragment == "    return call_upstream()"
    sent = bitbucket.requests[0]
    assert sent.path == "/2.0/workspaces/acme/search/code" and sent.query["search_query"] == ["call_upstream repo:api"]


async def test_search_code_across_the_workspace_needs_one(bitbucket, make_client):
    with pytest.raises(IntegrationRejected, match="needs a workspace"):
        await make_client(bitbucket).search_code("call_upstream")
    assert bitbucket.requests == []
    web = bitbucket.add_repository("acme/web", refs={"main": "b1" * 20})
    web.files = {"b1" * 20: {"app.js": b"call_upstream();\n"}}
    hits = await make_client(bitbucket, workspace="acme").search_code("call_upstream")
    assert sorted(h.repo for h in hits) == ["acme/api", "acme/api", "acme/web"]


async def test_list_commits_filters_dates_here_and_maps_authors(bitbucket, make_client):
    client = make_client(bitbucket)
    found = await client.list_commits(REPO, since=datetime(2024, 5, 1, 13), until=datetime(2024, 5, 2, 23, tzinfo=UTC))
    assert [c.sha for c in found] == [FEATURE], "after `until` skipped, the walk stops before `since`"
    assert bitbucket.requests[-1].path == "/2.0/repositories/acme/api/commits/main"
    assert found[0].author_email == "someone@example.com" and found[0].author_name is None
    newest = (await client.list_commits(REPO, ref="main", path="src/app.py", limit=1))[0]
    assert newest.sha == MAIN and newest.message == "Call upstream\n\nDetails." and newest.parents == [FEATURE]
    assert (newest.author_name, newest.author_email, newest.author_login) == ("Ada Lovelace", "ada@example.com", "ada")
    assert newest.authored_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    assert newest.url == f"https://bitbucket.org/{REPO}/commits/{MAIN}"
    assert bitbucket.requests[-1].query == {"pagelen": ["1"], "path": ["src/app.py"]}


async def test_list_commits_follows_pages(bitbucket, make_client):
    bitbucket.page_cap = 1
    found = await make_client(bitbucket).list_commits(REPO, limit=3)
    assert [c.sha for c in found] == [MAIN, FEATURE, OLD] and len(bitbucket.seen("GET", "/commits/")) == 3


async def test_compare_has_the_commits_oldest_first_and_the_changed_files(bitbucket, make_client):
    bitbucket.repositories[REPO].spec_diffstat["main..v1.0"] = [stat("modified", "src/app.py", "src/app.py", 1, 1)]
    client = make_client(bitbucket)
    comparison = await client.compare(REPO, "v1.0", "main")
    assert [c.sha for c in comparison.commits] == [FEATURE, MAIN] and comparison.ahead_by == 2
    assert [(f.path, f.additions) for f in comparison.files] == [("src/app.py", 1)] and comparison.status is None
    commits_call, stat_call = bitbucket.requests
    assert commits_call.path.endswith("/commits/main") and commits_call.query["exclude"] == ["v1.0"]
    assert stat_call.path == "/2.0/repositories/acme/api/diffstat/main..v1.0" and stat_call.query["topic"] == ["true"]
    newest = await client.compare(REPO, "v1.0", "main", limit=1)
    assert [c.sha for c in newest.commits] == [MAIN], "past the limit, the newest commits are kept"


async def test_list_tags(bitbucket, make_client):
    tags = await make_client(bitbucket).list_tags(REPO)
    assert [(t.name, t.sha, t.message) for t in tags] == [("v1.1", FEATURE, "Second release"), ("v1.0", OLD, None)]
    assert tags[0].created_at == datetime(2024, 5, 2, 13, tzinfo=UTC)
    assert tags[1].created_at == datetime(2024, 5, 1, 12, tzinfo=UTC), "a lightweight tag dates from its commit"
    assert tags[1].url == f"{bitbucket.url}/{REPO}/src/v1.0"
    assert bitbucket.requests[0].query["sort"] == ["-target.date"]


# --- failures ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, IntegrationAuthFailed, "bitbucket refused the credentials"),
        (403, IntegrationAuthFailed, "bitbucket refused the credentials"),
        (404, IntegrationNotFound, "bitbucket has no such object"),
        (400, IntegrationRejected, "bitbucket rejected the request"),
        (502, IntegrationUnavailable, "bitbucket failed"),
    ],
)
async def test_error_statuses_become_typed_errors(bitbucket, make_client, status, error, message):
    bitbucket.fail_next(status, count=5, body=error_body(f"scripted {status}"))
    with pytest.raises(error, match=message) as caught:
        await make_client(bitbucket).list_pull_requests(REPO)
    assert f"scripted {status}" in str(caught.value) and caught.value.service == "bitbucket"


async def test_an_unexpected_answer_is_a_typed_failure_not_a_crash(bitbucket, make_client):
    client = make_client(bitbucket)
    bitbucket.fail_next(200, body={"pagelen": 10, "values": [{"title": "a pull request without its id"}]})
    with pytest.raises(IntegrationUnavailable, match="unexpected shape for a pull request"):
        await client.list_pull_requests(REPO)
    bitbucket.fail_next(200, body="<html>maintenance</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(IntegrationUnavailable, match="not JSON"):
        await client.list_tags(REPO)


async def test_a_rate_limit_pauses_every_worker_of_the_connection(bitbucket, make_client, second_runtime):
    info = connection("bitbucket", bitbucket.url, {"token": TOKEN})
    bitbucket.fail_next(
        429, headers={"Retry-After": "30"}, body=error_body("Rate limit for this resource has been exceeded")
    )
    with pytest.raises(IntegrationRateLimited) as caught:
        await make_client(bitbucket, info=info).list_pull_requests(REPO)
    assert caught.value.retry_after == 30
    started = time.monotonic()
    with pytest.raises(IntegrationRateLimited):
        await make_client(bitbucket, info=info, on=second_runtime).list_tags(REPO)
    assert len(bitbucket.requests) == 1 and time.monotonic() - started < 0.5


async def test_a_429_without_retry_after_pauses_for_ten_seconds(bitbucket, make_client):
    bitbucket.fail_next(429, body=error_body("Rate limit for this resource has been exceeded"))
    client = make_client(bitbucket)
    with pytest.raises(IntegrationRateLimited) as caught:
        await client.list_pull_requests(REPO)
    assert caught.value.retry_after == 10
    with pytest.raises(IntegrationRateLimited):
        await client.list_pull_requests(REPO)
    assert len(bitbucket.requests) == 1


async def test_a_short_rate_limit_is_waited_out(bitbucket, make_client):
    bitbucket.fail_next(429, headers={"Retry-After": "1"}, body=error_body("Rate limit"))
    started = time.monotonic()
    assert len(await make_client(bitbucket).list_tags(REPO)) == 2
    assert time.monotonic() - started >= 0.9 and len(bitbucket.requests) == 2


async def test_a_503_is_retried_then_succeeds(bitbucket, make_client):
    bitbucket.fail_next(503, body=error_body("Service unavailable"))
    assert len(await make_client(bitbucket).list_pull_requests(REPO)) == 3
    assert len(bitbucket.requests) == 2


async def test_a_post_that_met_a_503_is_not_sent_again(bitbucket, make_client):
    bitbucket.fail_next(503, body=error_body("Service unavailable"), path="/comments$")
    with pytest.raises(IntegrationUnavailable):
        await make_client(bitbucket).comment_on_pull_request(REPO, 6, "once")
    assert len(bitbucket.seen("POST")) == 1 and bitbucket.repositories[REPO].comments == {}


async def test_credentials_never_reach_errors_or_logs(bitbucket, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = {"token": "ATCTT3x-secret-token-never-shown", "password": "ATBB-secret-app-password-zz"}
    errors = []
    for credentials in ({"token": secrets["token"]}, {"username": USERNAME, "password": secrets["password"]}):
        info = connection("bitbucket", bitbucket.url, credentials, workspace="acme")
        for call in (lambda c: c.identity(), lambda c: c.get_pull_request_diff(REPO, 6)):
            with pytest.raises(IntegrationAuthFailed) as caught:
                await call(make_client(bitbucket, info=info))
            errors.append(caught.value)
        assert all(secret not in repr(info) for secret in secrets.values())
    bitbucket.fail_next(500, count=5, body=error_body("boom"))
    with pytest.raises(IntegrationUnavailable) as caught:
        await make_client(bitbucket).list_tags(REPO)
    errors.append(caught.value)
    for error in errors:
        for secret in secrets.values():
            assert secret not in str(error) and secret not in repr(error.args)
    for secret in secrets.values():
        assert secret not in caplog.text
    assert bitbucket.requests[0].headers["authorization"] == f"Bearer {secrets['token']}"


def test_the_client_offers_the_scm_interface_and_the_workflow_extras_as_github_does():
    for name, method in vars(ScmClient).items():
        if callable(method) and not name.startswith("_"):
            assert inspect.signature(getattr(BitbucketClient, name)) == inspect.signature(method), name
    for name in ("list_tags", "compare"):
        assert inspect.signature(getattr(BitbucketClient, name)) == inspect.signature(getattr(GitHubClient, name)), name
