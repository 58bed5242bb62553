"""The GitHub client against a loopback GitHub (Enterprise Server layout, `/api/v3`) in GitHub's JSON shapes."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.github_api import api_root, web_root
from app.integrations.github_app import app_jwt, load_private_key
from app.integrations.runtime import IntegrationRuntime
from tests.fakes.github_data import FakeIssue, FakePull, FakeRepo, changed_file, iso
from tests.fakes.github_server import FakeGitHub
from tests.integrations.conftest import connection, integration_settings

REPO = "acme/widgets"
HEAD_SHA = "a" * 40
DIFF = (
    "diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1,2 @@\n-old\n+new\n+more\n"
    "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-a\n+b\n"
)


def seed(fake: FakeGitHub) -> FakeRepo:
    repo = fake.add_repo(REPO)
    repo.add_file("README.md", "# Widgets\n\nMake widgets.\n")
    repo.add_file("src/app.py", "def handle_request(req):\n    return 'ok'\n")
    repo.add_file("src/app.py", "def handle_request(req):\n    return 'feature'\n", ref="feature")
    repo.add_file("assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    for number, state, extra in [
        (1, "open", {}),
        (2, "closed", {"merged_at": "2024-02-02T00:00:00Z"}),
        (3, "closed", {}),
        (4, "open", {"draft": True}),
    ]:
        repo.pulls[number] = FakePull(number, f"PR {number}", f"topic-{number}", HEAD_SHA, state=state, **extra)
    pull = repo.pulls[1]
    pull.body, pull.labels, pull.diff = "Adds more.", ["enhancement"], DIFF
    pull.files = [changed_file("src/app.py", additions=2, deletions=1), changed_file("README.md")]
    return repo


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        seed(fake)
        yield fake


def pat(fake: FakeGitHub, **options) -> ConnectionInfo:
    return connection("github", fake.url, {"token": fake.token or ""}, **options)


def app_connection(fake: FakeGitHub, **options) -> ConnectionInfo:
    return connection("github", fake.url, {"app_id": fake.app_id or "", "private_key": fake.private_key_pem}, **options)


@pytest_asyncio.fixture
async def second_worker(redis_url: str) -> AsyncIterator[IntegrationRuntime]:
    """Another worker's runtime: its own limiters and HTTP clients, the same Redis."""
    redis = aioredis.Redis.from_url(redis_url)
    built = IntegrationRuntime(integration_settings(), redis=redis, key_prefix="test:")
    yield built
    built.close()
    await redis.aclose()


def test_the_api_root_follows_the_base_url():
    assert api_root("https://api.github.com") == "https://api.github.com"
    assert api_root("https://github.com/") == "https://api.github.com"
    assert api_root("https://ghe.example.com") == "https://ghe.example.com/api/v3"
    assert api_root("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/v3"
    assert api_root("https://api.octo.ghe.com") == "https://api.octo.ghe.com"
    assert web_root("https://api.github.com") == "https://github.com"
    assert web_root("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert web_root("https://api.octo.ghe.com") == "https://octo.ghe.com"


# --- identity ---------------------------------------------------------------------------------------------------


async def test_identity_of_a_classic_token_reports_its_scopes_and_sends_githubs_headers(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        identity = await client.identity()
    assert (identity.login, identity.name, identity.scopes) == ("octocat", "The Octocat", ["repo", "read:org"])
    sent = github.seen("GET", "/user$")[0]
    assert sent.path == "/api/v3/user"
    assert sent.headers["authorization"] == f"Bearer {github.token}"
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"


async def test_identity_of_a_fine_grained_token_says_github_reports_no_scopes(github, runtime):
    github.scopes = None
    async with GitHubClient(pat(github), runtime) as client:
        identity = await client.identity()
    assert identity.scopes == []
    assert "fine-grained" in (identity.detail or "") and "no scopes" in (identity.detail or "")


def test_a_connection_without_credentials_is_refused_at_once(runtime):
    with pytest.raises(IntegrationAuthFailed, match="neither a token nor App"):
        GitHubClient(connection("github", "https://ghe.example.com", {}), runtime)


# --- files --------------------------------------------------------------------------------------------------------


async def test_get_file_decodes_the_contents_at_a_ref_and_cuts_to_max_bytes(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        main = await client.get_file(REPO, "src/app.py")
        feature = await client.get_file(REPO, "/src/app.py", ref="feature")
        cut = await client.get_file(REPO, "README.md", max_bytes=9)
    assert main.text == "def handle_request(req):\n    return 'ok'\n" and main.ref is None and not main.truncated
    assert feature.text.endswith("'feature'\n") and feature.ref == "feature"
    assert github.seen("GET", "/contents/src/app.py$")[1].param("ref") == "feature"
    assert main.url == f"{github.url}/{REPO}/blob/main/src/app.py"
    assert (cut.text, cut.size, cut.truncated) == ("# Widgets", 25, True)


async def test_a_file_over_one_megabyte_is_read_raw_and_only_its_first_bytes(github, runtime):
    github.repos[REPO].add_file("data/big.txt", "x" * 1_200_000)
    async with GitHubClient(pat(github), runtime) as client:
        big = await client.get_file(REPO, "data/big.txt", max_bytes=1000)
    assert (len(big.text), big.size, big.truncated) == (1000, 1_200_000, True)
    raw = github.seen("GET", "/contents/data/big.txt$")[-1]
    assert raw.headers["accept"] == "application/vnd.github.raw+json" and raw.headers["range"] == "bytes=0-1000"


async def test_directories_binaries_and_paths_that_climb_out_are_refused(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        with pytest.raises(IntegrationRejected, match="directory"):
            await client.get_file(REPO, "src")
        with pytest.raises(IntegrationRejected, match="binary"):
            await client.get_file(REPO, "assets/logo.png")
        before = len(github.requests)
        for path in ("src/../../../user", "./README.md", ""):
            with pytest.raises(IntegrationRejected):
                await client.get_file(REPO, path)
        for repo in ("acme", "acme/widgets/extra", "../x"):
            with pytest.raises(IntegrationRejected, match="owner/name"):
                await client.get_file(repo, "README.md")
        with pytest.raises(IntegrationRejected, match="branch, tag or commit"):
            await client.get_file(REPO, "README.md", ref="main..evil")
        assert len(github.requests) == before  # refused before anything was sent
        with pytest.raises(IntegrationNotFound):
            await client.get_file(REPO, "missing.txt")


async def test_a_second_read_is_a_conditional_get_answered_from_the_cache(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        first = await client.get_file(REPO, "README.md")
        second = await client.get_file(REPO, "README.md")
        github.repos[REPO].add_file("README.md", "# Widgets v2\n")
        third = await client.get_file(REPO, "README.md")
    reads = github.seen("GET", "/contents/README.md$")
    assert "if-none-match" not in reads[0].headers
    assert reads[1].headers["if-none-match"].startswith('W/"')  # answered 304: no body came back
    assert second == first
    assert third.text == "# Widgets v2\n"  # a changed file has a new ETag: never a stale answer


# --- pull requests -------------------------------------------------------------------------------------------------


async def test_pull_requests_by_state_newest_first(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        opened = await client.list_pull_requests(REPO)
        merged = await client.list_pull_requests(REPO, state="merged")
        closed = await client.list_pull_requests(REPO, state="closed")
        every = await client.list_pull_requests(REPO, state="all", limit=3)
    assert [(p.number, p.state) for p in opened] == [(4, "draft"), (1, "open")]
    assert [(p.number, p.state) for p in merged] == [(2, "merged")]
    assert [(p.number, p.state) for p in closed] == [(3, "closed")]
    assert [p.number for p in every] == [4, 3, 2]
    assert {r.param("state") for r in github.seen("GET", "/pulls$")} == {"open", "closed", "all"}
    assert opened[1].files == [] and opened[1].labels == ["enhancement"]


async def test_lists_follow_the_link_header_across_three_pages(github, runtime):
    repo = github.add_repo("acme/busy")
    for number in range(1, 261):
        repo.pulls[number] = FakePull(number, f"PR {number}", f"b{number}", HEAD_SHA)
    async with GitHubClient(pat(github), runtime) as client:
        pulls = await client.list_pull_requests("acme/busy", limit=250)
    assert [p.number for p in pulls] == list(range(260, 10, -1))
    pages = github.seen("GET", "/repos/acme/busy/pulls$")
    assert [(r.param("page"), r.param("per_page")) for r in pages] == [(None, "100"), ("2", "100"), ("3", "100")]
    assert pages[2].param("state") == "open"  # the next link carried the query


async def test_get_pull_request_has_metadata_and_its_files_across_pages(github, runtime):
    pull = github.repos[REPO].pulls[1]
    pull.files = [changed_file(f"src/m{i}.py", status="added") for i in range(150)]
    pull.files[0] = changed_file("src/new.py", status="renamed", previous="src/old.py", patch=None)
    async with GitHubClient(pat(github), runtime) as client:
        found = await client.get_pull_request(REPO, 1, max_files=120)
    assert (found.title, found.body, found.state, found.author) == ("PR 1", "Adds more.", "open", "octocat")
    assert (found.source_branch, found.target_branch, found.head_sha) == ("topic-1", "main", HEAD_SHA)
    assert found.url == f"{github.url}/{REPO}/pull/1"
    assert len(found.files) == 120
    assert (found.files[0].path, found.files[0].previous_path, found.files[0].status) == (
        "src/new.py",
        "src/old.py",
        "renamed",
    )
    assert found.files[0].patch is None and found.files[1].patch and found.files[1].status == "added"
    assert [r.param("page") for r in github.seen("GET", "/pulls/1/files$")] == [None, "2"]


async def test_the_diff_is_asked_for_in_the_diff_media_type_and_cut_on_a_line(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        whole = await client.get_pull_request_diff(REPO, 1)
        cut = await client.get_pull_request_diff(REPO, 1, max_bytes=100)
        github.repos[REPO].pulls[1].diff_too_large = True
        with pytest.raises(IntegrationRejected, match="maximum number of lines"):
            await client.get_pull_request_diff(REPO, 1)
    assert whole == DIFF
    assert DIFF.startswith(cut) and cut.endswith("\n") and len(cut.encode()) <= 100
    assert github.seen("GET", "/pulls/1$")[0].headers["accept"] == "application/vnd.github.diff"


async def test_comment_on_a_pull_request_posts_to_its_issue(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        url = await client.comment_on_pull_request(REPO, 1, "Looks good.")
        with pytest.raises(IntegrationRejected):
            await client.comment_on_pull_request(REPO, 1, "   ")
    assert url.startswith(f"{github.url}/{REPO}/pull/1#issuecomment-")
    assert github.repos[REPO].comments[1][0]["body"] == "Looks good."
    assert [r.json() for r in github.seen("POST")] == [{"body": "Looks good."}]


async def test_a_review_with_line_comments_round_trips(github, runtime):
    comments = [
        {"path": "src/app.py", "line": 2, "body": "Name this better."},
        {"path": "src/app.py", "line": 4, "start_line": 2, "side": "RIGHT", "body": "Split this."},
    ]
    async with GitHubClient(pat(github), runtime) as client:
        review = await client.create_review(
            REPO, 1, commit_sha=HEAD_SHA, body="Two things.", event="REQUEST_CHANGES", comments=comments
        )
        listed = await client.list_review_comments(REPO, 1)
    assert review.state == "CHANGES_REQUESTED" and review.commit_sha == HEAD_SHA
    assert review.url == f"{github.url}/{REPO}/pull/1#pullrequestreview-{review.id}"
    sent = github.seen("POST", "/reviews$")[0].json()
    assert sent["comments"][0] == {"path": "src/app.py", "line": 2, "side": "RIGHT", "body": "Name this better."}
    assert [(c.path, c.start_line, c.line, c.review_id) for c in listed] == [
        ("src/app.py", None, 2, review.id),
        ("src/app.py", 2, 4, review.id),
    ]


async def test_bad_reviews_are_refused_before_sending_and_githubs_reasons_are_kept(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        for kwargs, reason in [
            ({"event": "MERGE"}, "event must be one of"),
            ({"commit_sha": "abc"}, "full SHA"),
            ({"body": ""}, "1 to 65536"),
            ({"comments": [{"path": "a.py", "line": 0, "body": "x"}]}, "comment 1 is invalid: line"),
            ({"comments": [{"path": "a.py", "line": 3, "start_line": 5, "body": "x"}]}, "start_line"),
        ]:
            arguments = {"commit_sha": HEAD_SHA, "body": "b", "event": "COMMENT"} | kwargs
            with pytest.raises(IntegrationRejected, match=reason):
                await client.create_review(REPO, 1, **arguments)
        assert github.seen("POST") == []
        with pytest.raises(IntegrationRejected, match="Path could not be resolved"):
            await client.create_review(
                REPO,
                1,
                commit_sha=HEAD_SHA,
                body="b",
                event="COMMENT",
                comments=[{"path": "nope.py", "line": 1, "body": "x"}],
            )


# --- search, commits, tags, comparisons, issues ---------------------------------------------------------------------


async def test_code_search_scopes_to_the_repository_and_keeps_the_matching_fragment(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        hits = await client.search_code("handle_request", repo=REPO, limit=5)
    assert [(h.repo, h.path) for h in hits] == [(REPO, "src/app.py")]
    assert hits[0].fragment == "def handle_request(req):"
    assert hits[0].url == f"{github.url}/{REPO}/blob/main/src/app.py"
    sent = github.seen("GET", "/search/code$")[0]
    assert sent.param("q") == f"handle_request repo:{REPO}" and sent.param("per_page") == "5"
    assert sent.headers["accept"] == "application/vnd.github.text-match+json"


def commits_of(repo: FakeRepo, count: int) -> list[str]:
    return [
        repo.add_commit(
            f"change {i}\n\nbody {i}",
            date=iso(datetime(2024, 3, 1, tzinfo=UTC).timestamp() + i * 86400),
            files=(f"f{i % 2}.py",),
        )
        for i in range(count)
    ]


async def test_commits_filtered_by_ref_path_and_time_newest_first(github, runtime):
    shas = commits_of(github.repos[REPO], 6)
    async with GitHubClient(pat(github), runtime) as client:
        found = await client.list_commits(
            REPO,
            ref=shas[4],
            path="f0.py",
            since=datetime(2024, 3, 2, tzinfo=UTC),
            until=datetime(2024, 3, 5),  # naive: taken as UTC
        )
    assert [c.sha for c in found] == [shas[4], shas[2]]
    assert (found[0].message, found[0].author_login, found[0].author_email) == (
        "change 4\n\nbody 4",
        "mona",
        "mona@example.com",
    )
    assert found[0].parents == [shas[3]] and found[0].authored_at == datetime(2024, 3, 5, tzinfo=UTC)
    sent = github.seen("GET", "/commits$")[0]
    assert (sent.param("sha"), sent.param("path")) == (shas[4], "f0.py")
    assert (sent.param("since"), sent.param("until")) == ("2024-03-02T00:00:00Z", "2024-03-05T00:00:00Z")


async def test_tags_and_a_comparison_across_pages(github, runtime):
    repo = github.repos[REPO]
    shas = commits_of(repo, 130)
    repo.tags = [("v2.0", shas[125]), ("v1.0", shas[3])]
    async with GitHubClient(pat(github), runtime) as client:
        tags = await client.list_tags(REPO)
        comparison = await client.compare(REPO, "v1.0", "v2.0")
        short = await client.compare(REPO, "v1.0", "v2.0", limit=10)
    assert [(t.name, t.sha) for t in tags] == [("v2.0", shas[125]), ("v1.0", shas[3])]
    assert tags[0].url == f"{github.url}/{REPO}/releases/tag/v2.0"
    assert [c.sha for c in comparison.commits] == shas[4:126]  # oldest first
    assert (comparison.ahead_by, comparison.status) == (122, "ahead")
    assert sorted(f.path for f in comparison.files) == ["f0.py", "f1.py"]
    assert [c.sha for c in short.commits] == shas[4:14]
    assert [r.param("page") for r in github.seen("GET", "/compare/")] == [None, "2", None]


async def test_issues_leave_pull_requests_out_and_an_issue_brings_its_comments(github, runtime):
    repo = github.repos[REPO]
    repo.issues[10] = FakeIssue(10, "Crash on start", "Steps...", labels=["bug", "p1"], assignee="mona")
    repo.issues[11] = FakeIssue(11, "Docs typo", labels=["docs"], updated_at="2023-01-01T00:00:00Z")
    repo.issues[12] = FakeIssue(12, "Old crash", labels=["bug"], state="closed")
    repo.comments[10] = [{"id": 1, "body": "Seen it too.", "user": {"login": "lisa"}, "html_url": "u#1"}]
    async with GitHubClient(pat(github), runtime) as client:
        opened = await client.list_issues(REPO)
        bugs = await client.list_issues(REPO, labels=["bug"], state="all")
        recent = await client.list_issues(REPO, since=datetime(2023, 6, 1, tzinfo=UTC))
        issue = await client.get_issue(REPO, 10)
        with pytest.raises(IntegrationRejected):
            await client.list_issues(REPO, labels=["a,b"])
    assert [i.key for i in opened] == [f"{REPO}#11", f"{REPO}#10"]  # pull requests 1 and 4 are open too
    assert [i.key for i in bugs] == [f"{REPO}#12", f"{REPO}#10"]
    assert [i.key for i in recent] == [f"{REPO}#10"]
    assert (issue.title, issue.description, issue.assignee, issue.labels) == (
        "Crash on start",
        "Steps...",
        "mona",
        ["bug", "p1"],
    )
    assert issue.url == f"{github.url}/{REPO}/issues/10"
    assert [(c.author, c.body) for c in issue.comments] == [("lisa", "Seen it too.")]
    assert github.seen("GET", "/issues$")[1].param("labels") == "bug"


# --- GitHub App ---------------------------------------------------------------------------------------------------


def test_the_app_jwt_is_rs256_backdated_and_short_lived():
    with FakeGitHub(app_id="123") as fake:
        pem = fake.private_key_pem
    now = time.time()
    jwt = app_jwt("123", load_private_key(pem), now=now)
    header, payload, signature = jwt.split(".")
    decode = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
    claims = json.loads(decode(payload))
    assert json.loads(decode(header)) == {"alg": "RS256", "typ": "JWT"}
    assert claims["iss"] == 123 and claims["iat"] == int(now) - 60 and claims["exp"] - now <= 600
    public = serialization.load_pem_private_key(pem.encode(), password=None).public_key()
    public.verify(decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())


async def test_an_app_exchanges_one_installation_token_for_many_calls(runtime):
    with FakeGitHub(token=None, app_id="123") as fake:
        seed(fake)
        async with GitHubClient(app_connection(fake, installation_id=42), runtime) as client:
            identity = await client.identity()
            await client.get_file(REPO, "README.md")
            await client.list_pull_requests(REPO)
        async with GitHubClient(app_connection(fake, installation_id=42), runtime) as again:
            await again.get_pull_request(REPO, 1)  # another client of the same installation, same process
    assert len(fake.exchanges) == 1 and fake.exchanges[0].path == "/api/v3/app/installations/42/access_tokens"
    token = next(iter(fake.installation_tokens))
    repo_calls = fake.seen("GET", "/repos/")
    assert repo_calls and all(r.headers["authorization"] == f"Bearer {token}" for r in repo_calls)
    app_calls = fake.seen(path="/app(/|$)")
    assert app_calls and all(r.headers["authorization"].removeprefix("Bearer ") in fake.jwts for r in app_calls)
    assert identity.login == "adjutant-test[bot]"
    assert identity.detail == "GitHub App adjutant-test installation 42 on acme"
    assert identity.scopes == ["contents:read", "metadata:read", "pull_requests:write"]


async def test_a_token_about_to_expire_is_exchanged_again(runtime):
    with FakeGitHub(token=None, app_id="123", token_ttl_s=200) as fake:  # inside the 5-minute margin
        seed(fake)
        async with GitHubClient(app_connection(fake, installation_id=42), runtime) as client:
            await client.get_file(REPO, "README.md")
            await client.get_file(REPO, "src/app.py")
    assert len(fake.exchanges) == 2


async def test_a_refused_token_is_exchanged_again_once(runtime):
    with FakeGitHub(token=None, app_id="123") as fake:
        seed(fake)
        async with GitHubClient(app_connection(fake, installation_id=42), runtime) as client:
            await client.get_file(REPO, "README.md")
            fake.expire_tokens()  # revoked behind our back: the cached token now gets a 401
            assert (await client.get_file(REPO, "src/app.py")).text.startswith("def handle_request")
            assert len(fake.exchanges) == 2
            fake.token_ttl_s = -10  # every new token is refused too: one refresh, then a typed failure
            fake.expire_tokens()
            with pytest.raises(IntegrationAuthFailed, match="Bad credentials"):
                await client.get_file(REPO, "README.md")
    assert len(fake.exchanges) == 3


async def test_an_app_without_installation_id_uses_its_only_installation(runtime):
    with FakeGitHub(token=None, app_id="123", installations=((7, "solo"),)) as fake:
        async with GitHubClient(app_connection(fake), runtime) as client:
            identity = await client.identity()
    assert identity.detail == "GitHub App adjutant-test installation 7 on solo"
    with FakeGitHub(token=None, app_id="123", installations=((7, "a"), (8, "b"))) as fake:
        async with GitHubClient(app_connection(fake), runtime) as client:
            with pytest.raises(
                IntegrationRejected, match="several installations; set the connection's installation_id"
            ):
                await client.list_pull_requests(REPO)
        assert fake.exchanges == []


async def test_app_credentials_that_github_cannot_use_are_auth_failures(runtime):
    with FakeGitHub(token=None, app_id="123") as fake:
        with pytest.raises(IntegrationAuthFailed, match="not a readable"):
            GitHubClient(connection("github", fake.url, {"app_id": "123", "private_key": "not a key"}), runtime)
        other = FakeGitHub(app_id="123")  # another App's key: GitHub cannot verify the JWT
        wrong = connection(
            "github", fake.url, {"app_id": "123", "private_key": other.private_key_pem}, installation_id=42
        )
        async with GitHubClient(wrong, runtime) as client:
            with pytest.raises(IntegrationAuthFailed, match="JSON web token"):
                await client.identity()
        async with GitHubClient(app_connection(fake, installation_id=99), runtime) as client:
            with pytest.raises(IntegrationAuthFailed, match="no installation 99"):
                await client.get_file(REPO, "README.md")


# --- rate limits ----------------------------------------------------------------------------------------------------


def reset_in(seconds: float) -> str:
    return str(int(time.time() + seconds))


async def test_a_spent_primary_limit_pauses_every_worker_of_the_connection(github, runtime, second_worker):
    shared = pat(github)
    github.fail_next(
        403,
        body={"message": "API rate limit exceeded for user ID 1."},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset_in(600)},
    )
    async with GitHubClient(shared, runtime) as client, GitHubClient(shared, second_worker) as other:
        with pytest.raises(IntegrationRateLimited) as first:
            await client.get_file(REPO, "README.md")
        sent = len(github.requests)
        with pytest.raises(IntegrationRateLimited) as second:
            await other.list_pull_requests(REPO)
    assert 590 <= first.value.retry_after <= 601 and 590 <= second.value.retry_after <= 601
    assert len(github.requests) == sent  # the other worker did not even ask


async def test_a_primary_limit_that_resets_soon_is_waited_out(github, runtime):
    github.fail_next(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset_in(0.5)})
    started = time.monotonic()
    async with GitHubClient(pat(github), runtime) as client:
        found = await client.get_file(REPO, "README.md")
    assert found.text.startswith("# Widgets") and time.monotonic() - started >= 0.9
    assert len(github.seen("GET", "/contents/")) == 2


async def test_a_secondary_limit_without_retry_after_pauses_a_minute_for_every_worker(github, runtime, second_worker):
    shared = pat(github)
    github.fail_next(
        403,
        body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
        headers={"x-ratelimit-remaining": "4000"},
    )
    async with GitHubClient(shared, runtime) as client, GitHubClient(shared, second_worker) as other:
        with pytest.raises(IntegrationRateLimited) as first:
            await client.search_code("handle_request", repo=REPO)
        with pytest.raises(IntegrationRateLimited) as second:
            await other.get_file(REPO, "README.md")
    assert first.value.retry_after == 60 and 58 <= second.value.retry_after <= 60
    assert len(github.requests) == 1


async def test_a_secondary_limit_with_retry_after_is_waited_out(github, runtime):
    github.fail_next(403, body={"message": "You have exceeded a secondary rate limit."}, headers={"retry-after": "1"})
    started = time.monotonic()
    async with GitHubClient(pat(github), runtime) as client:
        assert await client.list_pull_requests(REPO)
    assert time.monotonic() - started >= 0.9 and len(github.requests) == 2


# --- errors ---------------------------------------------------------------------------------------------------------


async def test_statuses_map_to_typed_errors(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        github.fail_next(403, body={"message": "Resource not accessible by personal access token"})
        with pytest.raises(IntegrationAuthFailed, match="Resource not accessible"):
            await client.get_file(REPO, "README.md")
        assert len(github.requests) == 1  # a missing permission is not retried, nor paused for
        with pytest.raises(IntegrationNotFound):
            await client.get_pull_request(REPO, 99)
        github.fail_next(422, body={"message": "Validation Failed", "errors": [{"field": "q", "code": "invalid"}]})
        with pytest.raises(IntegrationRejected, match="Validation Failed; q invalid"):
            await client.search_code("x", repo=REPO)
        github.fail_next(503, count=3)
        with pytest.raises(IntegrationUnavailable):
            await client.list_commits(REPO)
    async with GitHubClient(connection("github", github.url, {"token": "ghp_wrong"}), runtime) as client:
        with pytest.raises(IntegrationAuthFailed, match="Bad credentials"):
            await client.identity()


async def test_a_502_is_retried_and_a_post_that_met_a_500_is_not(github, runtime):
    async with GitHubClient(pat(github), runtime) as client:
        github.fail_next(502, path="/pulls$")
        assert [p.number for p in await client.list_pull_requests(REPO)] == [4, 1]
        assert len(github.seen("GET", "/pulls$")) == 2
        github.fail_next(500, path="/comments$")
        with pytest.raises(IntegrationUnavailable):
            await client.comment_on_pull_request(REPO, 1, "once")
    assert len(github.seen("POST")) == 1 and 1 not in github.repos[REPO].comments


async def test_credentials_never_reach_errors_or_logs(runtime, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeGitHub(app_id="123") as fake:
        seed(fake)
        failures: list[Exception] = []
        async with GitHubClient(pat(fake), runtime) as client:
            for status, count in ((401, 1), (403, 1), (500, 3)):
                fake.fail_next(status, count=count)
                with pytest.raises(IntegrationError) as caught:
                    await client.get_file(REPO, "README.md")
                failures.append(caught.value)
        async with GitHubClient(app_connection(fake, installation_id=42), runtime) as client:
            await client.get_file(REPO, "README.md")
            fake.expire_tokens()
            fake.token_ttl_s = -10
            with pytest.raises(IntegrationAuthFailed) as caught:
                await client.get_file(REPO, "src/app.py")
            failures.append(caught.value)
        secrets = [fake.token, *fake.installation_tokens, *fake.jwts, fake.private_key_pem.splitlines()[1]]
    text = caplog.text + "\n".join(f"{exc!r} {exc}" for exc in failures)
    assert "HTTP Request: GET" in caplog.text  # the call log was captured, and it is clean:
    assert len(secrets) >= 5 and not [s for s in secrets if s and s in text]
