"""The GitLab client against a loopback GitLab speaking REST v4: every method, pagination, the error and
rate-limit paths through the Redis-shared limiter, and credentials kept out of errors and logs."""

from __future__ import annotations

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
from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.gitlab import GitLabClient
from app.integrations.runtime import IntegrationRuntime
from app.integrations.scm import ScmClient
from tests.fakes.gitlab_server import OAUTH_TOKEN, TOKEN, FakeGitLab, Project, commit, diff, merge_request
from tests.integrations.conftest import connection

REPO = "acme/platform/api"
ENCODED = "acme%2Fplatform%2Fapi"
APP_PY = b"def main():\n    return 'hello'\n\n# call_upstream lives here\n"
HUNK_APP = "@@ -1,2 +1,3 @@\n def main():\n-    return 'hello'\n+    greeting = 'hi'\n+    return greeting\n"
HUNK_NEW = "@@ -0,0 +1,2 @@\n+import os\n+print(os.name)\n"
HUNK_GONE = "@@ -1 +0,0 @@\n-legacy = True\n"
HUNK_MOVED = "@@ -1 +1 @@\n-# Old notes\n+# Notes\n"


def seed(fake: FakeGitLab) -> Project:
    project = fake.add_project(REPO)
    project.files = {
        "main": {"src/app.py": APP_PY, "README.md": b"# API\nSee call_upstream.\n"},
        "release/1.0": {"src/app.py": b"def main():\n    return 'old'\n"},
    }
    project.commits = [
        commit(
            project,
            "c3" * 20,
            "Greet politely\n\nLonger text.",
            "2024-05-03T12:00:00Z",
            parents=("c2" * 20,),
            paths=("src/app.py",),
        ),
        commit(project, "c2" * 20, "Add README", "2024-05-02T12:00:00Z", parents=("c1" * 20,), paths=("README.md",)),
        commit(project, "c1" * 20, "Initial commit", "2024-05-01T12:00:00Z", paths=("src/app.py", "README.md")),
    ]
    project.refs = {"main": "c3" * 20, "v1.0": "c1" * 20, "v1.1": "c2" * 20}
    project.tags = [
        {
            "name": "v1.1",
            "message": "",
            "target": "c2" * 20,
            "release": None,
            "protected": False,
            "created_at": None,
            "commit": project.commits[1],
        },
        {
            "name": "v1.0",
            "message": "First release",
            "target": "t1" * 20,
            "release": None,
            "protected": True,
            "created_at": "2024-05-01T13:00:00.000Z",
            "commit": project.commits[2],
        },
    ]
    project.merge_requests = [
        merge_request(
            project,
            n,
            f"Change {n}",
            created_at=f"2024-05-0{n}T10:00:00.000Z",
            draft=n == 4,
            state="merged" if n == 2 else "closed" if n == 3 else "opened",
            labels=("backend",),
        )
        for n in range(1, 7)
    ]
    project.diffs[6] = [
        diff("src/app.py", hunks=HUNK_APP),
        diff("src/new.py", hunks=HUNK_NEW, new_file=True),
        diff("src/legacy.py", hunks=HUNK_GONE, deleted_file=True),
        diff("docs/old-notes.md", "docs/notes.md", HUNK_MOVED, renamed_file=True),
        diff("assets/logo.png", hunks="Binary files a/assets/logo.png and b/assets/logo.png differ\n"),
    ]
    return project


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        seed(fake)
        yield fake


@pytest_asyncio.fixture
async def make_client(runtime: IntegrationRuntime) -> AsyncIterator[Callable[..., GitLabClient]]:
    clients: list[GitLabClient] = []

    def make(fake: FakeGitLab, *, token: str = TOKEN, info: ConnectionInfo | None = None, on=None, **options):
        info = info or connection("gitlab", fake.url, {"token": token}, **options)
        client = GitLabClient(info, on or runtime)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# --- identity ---------------------------------------------------------------------------------------------------


async def test_identity_reports_the_user_and_the_token_scopes(gitlab, make_client):
    identity = await make_client(gitlab).identity()
    assert identity.login == "ada" and identity.name == "Ada Lovelace"
    assert identity.scopes == ["api", "read_repository"]
    assert "'adjutant'" in identity.detail and "expires 2025-01-01" in identity.detail
    sent = gitlab.seen("GET", "/api/v4/user$")[0]
    assert sent.headers["private-token"] == TOKEN and "authorization" not in sent.headers


async def test_identity_says_so_when_gitlab_does_not_describe_the_token(gitlab, make_client):
    gitlab.token_info = None
    identity = await make_client(gitlab).identity()
    assert identity.login == "ada" and identity.scopes == []
    assert "scopes unknown" in identity.detail


async def test_an_oauth_connection_sends_a_bearer_token_and_reads_its_scopes(gitlab, make_client):
    identity = await make_client(gitlab, token=OAUTH_TOKEN, oauth=True).identity()
    assert identity.scopes == ["read_api", "read_user"] and "OAuth" in identity.detail
    for request in gitlab.requests:
        assert request.headers["authorization"] == f"Bearer {OAUTH_TOKEN}" and "private-token" not in request.headers
    assert [r.path for r in gitlab.requests] == ["/api/v4/user", "/oauth/token/info"]


# --- files ------------------------------------------------------------------------------------------------------


async def test_get_file_reads_the_default_branch_with_the_project_and_path_encoded(gitlab, make_client):
    file = await make_client(gitlab).get_file(REPO, "src/app.py")
    assert file.text == APP_PY.decode() and file.size == len(APP_PY) and not file.truncated
    assert file.ref == "main" and file.url == f"{gitlab.url}/{REPO}/-/blob/main/src/app.py"
    project_call, file_call = gitlab.requests
    assert project_call.path == f"/api/v4/projects/{ENCODED}"
    assert file_call.path == f"/api/v4/projects/{ENCODED}/repository/files/src%2Fapp.py"
    assert file_call.query["ref"] == ["main"]


async def test_get_file_at_a_ref_is_cut_to_max_bytes_without_splitting_a_character(gitlab, make_client):
    gitlab.projects[REPO].files["release/1.0"]["notes.txt"] = "héllo wörld".encode()
    client = make_client(gitlab)
    file = await client.get_file(REPO, "notes.txt", ref="release/1.0", max_bytes=2)
    assert file.text == "h" and file.truncated and file.size == len("héllo wörld".encode())
    assert gitlab.requests[0].query["ref"] == ["release/1.0"]  # no project lookup for an explicit ref
    old = await client.get_file(REPO, "src/app.py", ref="release/1.0")
    assert old.text == "def main():\n    return 'old'\n"


async def test_get_file_revalidates_with_its_etag_and_serves_a_304_from_redis(gitlab, make_client):
    client = make_client(gitlab)
    first = await client.get_file(REPO, "src/app.py", ref="main")
    second = await client.get_file(REPO, "src/app.py", ref="main")
    assert second == first
    assert gitlab.requests[-1].headers["if-none-match"].startswith('W/"')
    assert gitlab.not_modified == 1, "GitLab answered 304: the body came from Redis"


async def test_a_missing_file_is_not_found(gitlab, make_client):
    with pytest.raises(IntegrationNotFound, match="404 File Not Found"):
        await make_client(gitlab).get_file(REPO, "nope.py", ref="main")


# --- merge requests ---------------------------------------------------------------------------------------------


async def test_list_merge_requests_maps_states_and_follows_link_pages(gitlab, make_client):
    gitlab.max_per_page = 2  # the service caps pages below what we ask for
    found = await make_client(gitlab).list_pull_requests(REPO, state="open", limit=3)
    assert [(pr.number, pr.state) for pr in found] == [(6, "open"), (5, "open"), (4, "draft")]
    first, second = gitlab.seen("GET", "/merge_requests$")
    assert first.query["state"] == ["opened"] and first.query["per_page"] == ["3"]
    assert second.query["page"] == ["2"], "the second page comes from the Link header"
    pr = found[0]
    assert pr.author == "ada" and pr.labels == ["backend"] and pr.head_sha == "h" * 40
    assert pr.url == f"https://gitlab.example.com/{REPO}/-/merge_requests/6" and pr.files == []


@pytest.mark.parametrize(
    ("state", "sent", "expected"),
    [("merged", "merged", [(2, "merged")]), ("closed", "closed", [(3, "closed")]), ("all", "all", None)],
)
async def test_list_merge_requests_by_state(gitlab, make_client, state, sent, expected):
    found = await make_client(gitlab).list_pull_requests(REPO, state=state)
    assert gitlab.requests[0].query["state"] == [sent]
    if expected is None:
        assert [pr.number for pr in found] == [6, 5, 4, 3, 2, 1]
    else:
        assert [(pr.number, pr.state) for pr in found] == expected
    merged = [pr for pr in found if pr.state == "merged"]
    assert all(pr.merged_at is not None for pr in merged)


async def test_pages_follow_x_next_page_when_the_link_header_is_absent(gitlab, make_client):
    gitlab.max_per_page, gitlab.link_header = 2, False
    found = await make_client(gitlab).list_pull_requests(REPO, state="all", limit=5)
    assert [pr.number for pr in found] == [6, 5, 4, 3, 2]
    assert [r.query.get("page") for r in gitlab.requests] == [None, ["2"], ["3"]]
    assert all(r.query["state"] == ["all"] for r in gitlab.requests), "later pages keep the query"


async def test_get_merge_request_has_its_files_with_patches_across_diff_pages(gitlab, make_client):
    gitlab.max_per_page = 2
    pr = await make_client(gitlab).get_pull_request(REPO, 6)
    assert pr.title == "Change 6" and pr.base_sha == "b" * 40 and pr.head_sha == "h" * 40
    assert [(f.path, f.status, f.previous_path, f.additions, f.deletions) for f in pr.files] == [
        ("src/app.py", "modified", None, 2, 1),
        ("src/new.py", "added", None, 2, 0),
        ("src/legacy.py", "removed", None, 0, 1),
        ("docs/notes.md", "renamed", "docs/old-notes.md", 1, 1),
        ("assets/logo.png", "modified", None, 0, 0),
    ]
    assert pr.files[0].patch == HUNK_APP
    assert len(gitlab.seen("GET", "/diffs$")) == 3


async def test_get_merge_request_respects_max_files(gitlab, make_client):
    pr = await make_client(gitlab).get_pull_request(REPO, 6, max_files=2)
    assert [f.path for f in pr.files] == ["src/app.py", "src/new.py"]


async def test_an_older_gitlab_without_diffs_is_read_through_changes(gitlab, make_client):
    gitlab.has_diffs_endpoint = False
    pr = await make_client(gitlab).get_pull_request(REPO, 6)
    assert [f.status for f in pr.files] == ["modified", "added", "removed", "renamed", "modified"]
    assert gitlab.seen("GET", "/changes$")


async def test_merge_request_diff_is_a_unified_diff(gitlab, make_client):
    text = await make_client(gitlab).get_pull_request_diff(REPO, 6)
    assert text == (
        "diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n+++ b/src/app.py\n"
        + HUNK_APP
        + "diff --git a/src/new.py b/src/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/src/new.py\n"
        + HUNK_NEW
        + "diff --git a/src/legacy.py b/src/legacy.py\ndeleted file mode 100644\n--- a/src/legacy.py\n+++ /dev/null\n"
        + HUNK_GONE
        + "diff --git a/docs/old-notes.md b/docs/notes.md\nrename from docs/old-notes.md\nrename to docs/notes.md\n"
        "--- a/docs/old-notes.md\n+++ b/docs/notes.md\n"
        + HUNK_MOVED
        + "diff --git a/assets/logo.png b/assets/logo.png\n"
        "Binary files a/assets/logo.png and b/assets/logo.png differ\n"
    )


async def test_merge_request_diff_is_cut_on_a_line_boundary_and_stops_fetching(gitlab, make_client):
    gitlab.max_per_page = 1
    text = await make_client(gitlab).get_pull_request_diff(REPO, 6, max_bytes=60)
    assert text == "diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n"
    assert len(gitlab.seen("GET", "/diffs$")) == 1, "pages past the budget are not fetched"


async def test_comment_on_merge_request_posts_a_note_and_returns_its_url(gitlab, make_client):
    url = await make_client(gitlab).comment_on_pull_request(REPO, 6, "Looks good")
    assert url == f"{gitlab.url}/{REPO}/-/merge_requests/6#note_5000"
    sent = gitlab.seen("POST")[0]
    assert sent.path == f"/api/v4/projects/{ENCODED}/merge_requests/6/notes" and sent.json() == {"body": "Looks good"}
    assert gitlab.projects[REPO].notes[6][0]["body"] == "Looks good"


async def test_an_empty_comment_is_refused_without_a_call(gitlab, make_client):
    with pytest.raises(IntegrationRejected, match="empty comment"):
        await make_client(gitlab).comment_on_pull_request(REPO, 6, "  \n")
    assert gitlab.requests == []


async def test_comment_on_line_opens_a_diff_discussion_at_the_merge_request_version(gitlab, make_client):
    url = await make_client(gitlab).comment_on_line(REPO, 6, path="src/app.py", line=3, body="Name this better")
    assert url == f"{gitlab.url}/{REPO}/-/merge_requests/6#note_5000"
    sent = gitlab.seen("POST", "/discussions$")[0].json()
    assert sent == {
        "body": "Name this better",
        "position": {
            "position_type": "text",
            "base_sha": "b" * 40,
            "start_sha": "b" * 40,
            "head_sha": "h" * 40,
            "old_path": "src/app.py",
            "new_path": "src/app.py",
            "new_line": 3,
        },
    }
    with pytest.raises(IntegrationRejected, match="valid line code"):
        await make_client(gitlab).comment_on_line(REPO, 6, path="not/in/diff.py", line=1, body="x")


# --- search, commits, tags --------------------------------------------------------------------------------------


async def test_search_code_in_one_project(gitlab, make_client):
    hits = await make_client(gitlab).search_code("call_upstream", repo=REPO)
    assert [(h.repo, h.path) for h in hits] == [(REPO, "README.md"), (REPO, "src/app.py")]
    assert hits[1].url == f"{gitlab.url}/{REPO}/-/blob/main/src/app.py#L4"
    assert "call_upstream" in hits[1].fragment
    sent = gitlab.requests[0]
    assert sent.path == f"/api/v4/projects/{ENCODED}/search"
    assert sent.query["scope"] == ["blobs"] and sent.query["search"] == ["call_upstream"]


async def test_search_code_across_the_instance_names_each_project_once(gitlab, make_client):
    other = gitlab.add_project("acme/web")
    other.files = {"main": {"app.js": b"call_upstream();\n", "lib.js": b"// call_upstream\n"}}
    hits = await make_client(gitlab).search_code("call_upstream", limit=10)
    assert sorted((h.repo, h.path) for h in hits) == [
        ("acme/platform/api", "README.md"),
        ("acme/platform/api", "src/app.py"),
        ("acme/web", "app.js"),
        ("acme/web", "lib.js"),
    ]
    assert gitlab.requests[0].path == "/api/v4/search"
    assert len(gitlab.seen("GET", r"/projects/\d+$")) == 2, "one lookup per project, not per hit"


async def test_list_commits_sends_its_filters_and_maps_commits(gitlab, make_client):
    client = make_client(gitlab)
    found = await client.list_commits(
        REPO, ref="main", path="src/app.py", since=datetime(2024, 5, 1), until=datetime(2024, 5, 4, tzinfo=UTC)
    )
    sent = gitlab.requests[0].query
    assert sent["ref_name"] == ["main"] and sent["path"] == ["src/app.py"]
    assert sent["since"] == ["2024-05-01T00:00:00+00:00"] and sent["until"] == ["2024-05-04T00:00:00+00:00"]
    assert [c.sha for c in found] == ["c3" * 20, "c1" * 20]
    newest = found[0]
    assert newest.message == "Greet politely\n\nLonger text." and newest.parents == ["c2" * 20]
    assert newest.author_email == "ada@example.com" and newest.authored_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    assert newest.url == f"https://gitlab.example.com/{REPO}/-/commit/{'c3' * 20}"
    assert [c.sha for c in await client.list_commits(REPO, limit=2)] == ["c3" * 20, "c2" * 20]


async def test_compare_has_the_commits_oldest_first_and_the_changed_files(gitlab, make_client):
    gitlab.projects[REPO].compare_diffs["v1.0...main"] = [diff("src/app.py", hunks=HUNK_APP)]
    client = make_client(gitlab)
    comparison = await client.compare(REPO, "v1.0", "main")
    assert [c.sha for c in comparison.commits] == ["c2" * 20, "c3" * 20] and comparison.ahead_by == 2
    assert [(f.path, f.additions, f.deletions) for f in comparison.files] == [("src/app.py", 2, 1)]
    assert comparison.status is None and comparison.url.endswith("/-/compare/v1.0...main")
    assert gitlab.requests[0].query == {"from": ["v1.0"], "to": ["main"], "straight": ["false"]}
    capped = await client.compare(REPO, "v1.0", "main", limit=1, max_files=0)
    assert [c.sha for c in capped.commits] == ["c2" * 20] and capped.files == [] and capped.ahead_by == 2
    same = await client.compare(REPO, "main", "main")
    assert same.status == "identical" and same.commits == []


async def test_list_tags(gitlab, make_client):
    tags = await make_client(gitlab).list_tags(REPO, limit=5)
    assert [(t.name, t.sha, t.message) for t in tags] == [
        ("v1.1", "c2" * 20, None),
        ("v1.0", "c1" * 20, "First release"),
    ]
    assert tags[0].created_at == datetime(2024, 5, 2, 12, tzinfo=UTC), "a lightweight tag dates from its commit"
    assert tags[1].url == f"{gitlab.url}/{REPO}/-/tags/v1.0"
    assert gitlab.requests[0].query["order_by"] == ["updated"]


async def test_bad_repository_paths_are_refused_without_a_call(gitlab, make_client):
    client = make_client(gitlab)
    for repo in ("justone", "acme/../admin", "acme//api"):
        with pytest.raises(IntegrationRejected, match="not a GitLab project path"):
            await client.list_pull_requests(repo)
    assert gitlab.requests == []


# --- failures ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, IntegrationAuthFailed, "gitlab refused the credentials"),
        (403, IntegrationAuthFailed, "gitlab refused the credentials"),
        (404, IntegrationNotFound, "gitlab has no such object"),
        (400, IntegrationRejected, "gitlab rejected the request"),
        (500, IntegrationUnavailable, "gitlab failed"),
    ],
)
async def test_error_statuses_become_typed_errors(gitlab, make_client, status, error, message):
    gitlab.fail_next(status, count=5, body={"message": f"{status} scripted"})
    with pytest.raises(error, match=message) as caught:
        await make_client(gitlab).list_pull_requests(REPO)
    assert f"{status} scripted" in str(caught.value) and caught.value.service == "gitlab"


async def test_an_unexpected_answer_is_a_typed_failure_not_a_crash(gitlab, make_client):
    client = make_client(gitlab)
    gitlab.fail_next(200, body=[{"title": "a merge request without its iid"}])
    with pytest.raises(IntegrationUnavailable, match="unexpected shape for a merge request"):
        await client.list_pull_requests(REPO)
    gitlab.fail_next(200, body=["not", "a", "user"])
    with pytest.raises(IntegrationUnavailable, match="unexpected shape for the user"):
        await client.identity()
    gitlab.fail_next(200, body={"encoding": "base64", "content": "QUJ"}, path="/files/")
    with pytest.raises(IntegrationUnavailable, match="not valid base64"):
        await client.get_file(REPO, "src/app.py", ref="main")


async def test_a_wrong_token_is_an_auth_failure(gitlab, make_client):
    with pytest.raises(IntegrationAuthFailed, match="401 Unauthorized"):
        await make_client(gitlab, token="glpat-wrong").identity()


async def test_a_rate_limit_pauses_every_worker_of_the_connection(gitlab, make_client, second_runtime):
    info = connection("gitlab", gitlab.url, {"token": TOKEN})
    gitlab.fail_next(429, headers={"Retry-After": "30", "RateLimit-Remaining": "0"}, body={"message": "Retry later"})
    with pytest.raises(IntegrationRateLimited) as caught:
        await make_client(gitlab, info=info).list_pull_requests(REPO)
    assert 25 < caught.value.retry_after <= 30
    calls = len(gitlab.requests)
    started = time.monotonic()
    with pytest.raises(IntegrationRateLimited):
        await make_client(gitlab, info=info, on=second_runtime).get_file(REPO, "src/app.py", ref="main")
    assert len(gitlab.requests) == calls, "the other worker did not call GitLab during the pause"
    assert time.monotonic() - started < 0.5, "it failed fast instead of sleeping 30 s"


async def test_a_short_rate_limit_is_waited_out(gitlab, make_client):
    gitlab.fail_next(429, headers={"Retry-After": "1"}, body={"message": "Retry later"})
    started = time.monotonic()
    found = await make_client(gitlab).list_pull_requests(REPO)
    assert len(found) == 4 and time.monotonic() - started >= 0.9
    assert len(gitlab.requests) == 2


async def test_a_spent_budget_pauses_the_next_call_until_the_reset(gitlab, make_client):
    gitlab.rate_remaining = 0  # GitLab's RateLimit-Reset is epoch seconds, 60 s ahead here
    client = make_client(gitlab)
    await client.list_pull_requests(REPO)
    with pytest.raises(IntegrationRateLimited) as caught:
        await client.list_pull_requests(REPO)
    assert 55 < caught.value.retry_after <= 60 and len(gitlab.requests) == 1


async def test_a_503_is_retried_then_succeeds(gitlab, make_client):
    gitlab.fail_next(503, body={"message": "503 Service Unavailable"})
    found = await make_client(gitlab).list_pull_requests(REPO)
    assert len(found) == 4 and len(gitlab.requests) == 2


async def test_a_post_that_met_a_503_is_not_sent_again(gitlab, make_client):
    gitlab.fail_next(503, body={"message": "503 Service Unavailable"}, path="/notes$")
    with pytest.raises(IntegrationUnavailable):
        await make_client(gitlab).comment_on_pull_request(REPO, 6, "once")
    assert len(gitlab.seen("POST")) == 1


async def test_the_token_never_reaches_errors_or_logs(gitlab, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "glpat-secret-never-shown-9876"
    info = connection("gitlab", gitlab.url, {"token": secret})
    errors = []
    for call in (
        lambda c: c.identity(),
        lambda c: c.get_file(REPO, "src/app.py", ref="main"),
    ):
        with pytest.raises(IntegrationAuthFailed) as caught:
            await call(make_client(gitlab, info=info))
        errors.append(caught.value)
    gitlab.token = secret
    gitlab.fail_next(500, count=5, body={"message": "boom"})
    with pytest.raises(IntegrationUnavailable) as caught:
        await make_client(gitlab, info=info).list_commits(REPO)
    errors.append(caught.value)
    for error in errors:
        assert secret not in str(error) and secret not in repr(error.args)
    assert secret not in caplog.text and secret not in repr(info)
    assert gitlab.requests[0].headers["private-token"] == secret, "the token did travel, in its header"


async def test_a_connection_without_a_token_is_refused_up_front(gitlab, runtime):
    with pytest.raises(IntegrationAuthFailed, match="no token"):
        GitLabClient(connection("gitlab", gitlab.url, {}), runtime)


def test_the_client_offers_the_scm_interface_and_the_workflow_extras_as_github_does():
    for name, method in vars(ScmClient).items():
        if callable(method) and not name.startswith("_"):
            assert inspect.signature(getattr(GitLabClient, name)) == inspect.signature(method), name
    for name in ("list_tags", "compare"):
        assert inspect.signature(getattr(GitLabClient, name)) == inspect.signature(getattr(GitHubClient, name)), name
