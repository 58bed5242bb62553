"""The calls the pull-request review makes beyond posting: editing its summary in place, marking or resolving
its line comments, listing what is already on the pull request, labels, approvals and the diff between two
commits, each against its service's loopback fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.errors import IntegrationAuthFailed, IntegrationRejected
from app.integrations.bitbucket import BitbucketClient
from app.integrations.github import GitHubClient
from app.integrations.gitlab import GitLabClient
from tests.fakes import bitbucket_server as bb
from tests.fakes import gitlab_server as gl
from tests.fakes.github_data import FakePull, changed_file
from tests.fakes.github_server import FakeGitHub
from tests.integrations.conftest import connection

HEAD = "c" * 40
HUNKS = (
    "@@ -1,3 +1,4 @@\n def get(key):\n-    return cache[key]\n+    value = cache.get(key)\n+    return value\n end\n"
)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(refuse_own_reviews=True) as fake:
        repo = fake.add_repo("acme/shop")
        repo.pulls[3] = FakePull(3, "Cache reads", "topic", HEAD, author="mona")
        repo.pulls[3].files = [changed_file("app/cache.py", patch=HUNKS)]
        repo.pulls[4] = FakePull(4, "Mine", "mine", HEAD, author="octocat")
        yield fake


async def test_github_summary_edited_in_place_and_review_comment_marked(github, runtime):
    async with GitHubClient(connection("github", github.url, {"token": github.token or ""}), runtime) as client:
        posted = await client.create_issue_comment("acme/shop", 3, "Summary v1")
        edited = await client.update_issue_comment("acme/shop", int(posted.id), "Summary v2")
        listed = await client.list_issue_comments("acme/shop", 3)
        await client.create_review(
            "acme/shop",
            3,
            commit_sha=HEAD,
            body="1 finding",
            event="COMMENT",
            comments=[{"path": "app/cache.py", "line": 3, "body": "A missing key returns None."}],
        )
        (line_comment,) = await client.list_review_comments("acme/shop", 3)
        marked = await client.update_review_comment("acme/shop", line_comment.id, "~~A missing key~~ outdated")
        labels = await client.add_labels("acme/shop", 3, ["review/bug", "fix"])
        again = await client.add_labels("acme/shop", 3, ["fix"])
    assert (edited.id, edited.body) == (posted.id, "Summary v2")
    assert [(c.id, c.body, c.author) for c in listed] == [(posted.id, "Summary v2", "octocat")]
    assert (marked.id, marked.line, marked.body) == (line_comment.id, 3, "~~A missing key~~ outdated")
    assert labels == ["review/bug", "fix"] and again == ["review/bug", "fix"]
    assert github.seen("PATCH", r"/issues/comments/\d+$")[0].json() == {"body": "Summary v2"}


async def test_github_refuses_reviews_of_your_own_pull_request_and_bad_labels_cost_no_call(github, runtime):
    async with GitHubClient(connection("github", github.url, {"token": github.token or ""}), runtime) as client:
        with pytest.raises(IntegrationRejected, match="your own pull request"):
            await client.create_review("acme/shop", 4, commit_sha=HEAD, body="", event="APPROVE")
        approved = await client.create_review("acme/shop", 3, commit_sha=HEAD, body="", event="APPROVE")
        calls = len(github.requests)
        with pytest.raises(IntegrationRejected):
            await client.add_labels("acme/shop", 3, [""])
        assert len(github.requests) == calls
    assert approved.state == "APPROVED"
    assert [r["state"] for r in github.repos["acme/shop"].pulls[3].reviews] == ["APPROVED"]


@pytest.fixture
def gitlab() -> Iterator[gl.FakeGitLab]:
    with gl.FakeGitLab() as fake:
        project = fake.add_project("acme/shop")
        project.merge_requests.append(gl.merge_request(project, 5, "Cache reads", author="grace", head_sha=HEAD))
        project.diffs[5] = [gl.diff("app/cache.py", hunks=HUNKS)]
        yield fake


async def test_gitlab_notes_discussions_labels_and_approval(gitlab, runtime):
    client = GitLabClient(connection("gitlab", gitlab.url, {"token": gl.TOKEN}), runtime)
    try:
        note = await client.add_note("acme/shop", 5, "Summary v1")
        edited = await client.update_note("acme/shop", 5, note.id, "Summary v2")
        refs = await client.diff_refs("acme/shop", 5)
        added = await client.start_discussion(
            "acme/shop", 5, path="app/cache.py", line=3, body="On an added line", refs=refs
        )
        unchanged = await client.start_discussion(
            "acme/shop", 5, path="app/cache.py", line=4, old_line=3, body="On an unchanged line", refs=refs
        )
        with pytest.raises(IntegrationRejected):  # an unchanged line named by its new number only
            await client.start_discussion("acme/shop", 5, path="app/cache.py", line=4, body="x", refs=refs)
        await client.resolve_discussion("acme/shop", 5, added.thread_id or "")
        listed = await client.list_discussions("acme/shop", 5)
        labels = await client.add_labels("acme/shop", 5, ["review/bug"])
        await client.approve("acme/shop", 5, sha=HEAD)
        with pytest.raises(IntegrationRejected):
            await client.resolve_discussion("acme/shop", 5, "../notes")
    finally:
        await client.aclose()
    assert (edited.id, edited.body) == (note.id, "Summary v2")
    assert refs == {"base_sha": "b" * 40, "start_sha": "b" * 40, "head_sha": HEAD}
    assert (added.path, added.line, added.url) == (
        "app/cache.py",
        3,
        f"{gitlab.url}/acme/shop/-/merge_requests/5#note_{added.id}",
    )
    assert {(c.id, c.thread_id, c.resolved) for c in listed} == {
        (note.id, listed[0].thread_id, False),
        (added.id, added.thread_id, True),
        (unchanged.id, unchanged.thread_id, False),
    }
    assert labels == ["review/bug"]
    assert gitlab.projects["acme/shop"].approvals[5] == [{"user": "ada", "sha": HEAD}]


@pytest.fixture
def bitbucket() -> Iterator[bb.FakeBitbucket]:
    with bb.FakeBitbucket() as fake:
        repository = fake.add_repository("acme/shop")
        repository.pull_requests.append(bb.pull_request(repository, 9, "Cache reads", author="grace"))
        repository.pull_requests.append(bb.pull_request(repository, 10, "Mine"))
        repository.diffstat[9] = [
            {"status": "modified", "old": {"path": "app/cache.py"}, "new": {"path": "app/cache.py"}}
        ]
        repository.commits = [
            bb.commit(repository, "2" * 40, "second", "2024-05-02T10:00:00+00:00", parents=("1" * 40,)),
            bb.commit(repository, "1" * 40, "first", "2024-05-01T10:00:00+00:00"),
        ]
        repository.spec_diffs[f"{'2' * 40}..{'1' * 40}"] = "diff --git a/app/cache.py b/app/cache.py\n" + HUNKS
        yield fake


async def test_bitbucket_comments_edited_resolved_listed_and_approvals(bitbucket, runtime):
    client = BitbucketClient(connection("bitbucket", bitbucket.url, {"token": bb.TOKEN}), runtime)
    try:
        summary = await client.create_comment("acme/shop", 9, "Summary v1")
        inline = await client.create_comment("acme/shop", 9, "A missing key", path="app/cache.py", line=3)
        edited = await client.update_comment("acme/shop", 9, summary.id, "Summary v2")
        await client.resolve_comment("acme/shop", 9, inline.id)
        await client.resolve_comment("acme/shop", 9, inline.id)  # already resolved: not an error
        listed = await client.list_comments("acme/shop", 9)
        await client.approve("acme/shop", 9)
        await client.request_changes("acme/shop", 9)
        with pytest.raises(IntegrationRejected):
            await client.approve("acme/shop", 10)  # the account's own pull request
        diff = await client.diff_between("acme/shop", "1" * 40, "2" * 40)
        with pytest.raises(IntegrationRejected):
            await client.update_comment("acme/shop", 9, "1/../2", "x")
    finally:
        await client.aclose()
    assert (edited.id, edited.body) == (summary.id, "Summary v2")
    assert [(c.id, c.path, c.line, c.resolved) for c in listed] == [
        (summary.id, None, None, False),
        (inline.id, "app/cache.py", 3, True),
    ]
    assert [p["state"] for p in bitbucket.repositories["acme/shop"].participants[9]] == [
        "approved",
        "changes_requested",
    ]
    assert diff.startswith("diff --git a/app/cache.py") and "+    value = cache.get(key)" in diff


async def test_editing_someone_elses_comment_is_refused(bitbucket, runtime):
    repository = bitbucket.repositories["acme/shop"]
    client = BitbucketClient(connection("bitbucket", bitbucket.url, {"token": bb.TOKEN}), runtime)
    try:
        theirs = await client.create_comment("acme/shop", 9, "Their words")
        repository.comments[9][0]["user"] = {
            "type": "user",
            "display_name": "Grace",
            "nickname": "grace",
            "account_id": "557058:grace",
        }
        with pytest.raises(IntegrationAuthFailed):
            await client.update_comment("acme/shop", 9, theirs.id, "Mine now")
    finally:
        await client.aclose()
    assert repository.comments[9][0]["content"]["raw"] == "Their words"
