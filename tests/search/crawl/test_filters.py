"""Listing and filtering through the real clients against the fake GitHub, GitLab and Bitbucket: pagination,
the fields each service reports, and every filter (archived, forks, language, size, last push) with its reason;
on Bitbucket, the filters it can apply itself are asked of it as a BBQL query."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.errors import InvalidRequest
from app.integrations.bitbucket import BitbucketClient
from app.integrations.connection import ConnectionInfo
from app.integrations.github import GitHubClient
from app.integrations.gitlab import GitLabClient
from app.search.crawl.filters import CrawlFilters, filtered_out
from app.search.crawl.listing import CrawlScope, clone_refusal, head_commit, listed
from tests.fakes.bitbucket_server import APP_PASSWORD, USERNAME, FakeBitbucket
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab_server import FakeGitLab


def connection(kind: str, url: str, token: str) -> ConnectionInfo:
    return ConnectionInfo(id=7, team_id=1, kind=kind, name=kind, base_url=url, credentials={"token": token})  # type: ignore[arg-type]


async def decided(client, kind: str, scope: CrawlScope, filters: CrawlFilters) -> dict[str, str | None]:
    found = {}
    async for repo in listed(client, kind, scope, filters, limit=1000):
        found[repo.full_name] = filtered_out(repo, filters)
    return found


@pytest.fixture
def github():
    with FakeGitHub() as fake:
        for i in range(103):  # more than one page of 100
            fake.add_repo(f"acme/lib{i:03d}").meta.update(language="Python")
        fake.add_repo("acme/old").meta.update(archived=True, language="Python")
        fake.add_repo("acme/forked").meta.update(fork=True, language="Python")
        fake.add_repo("acme/tool").meta.update(language="Go", topics=["cli"])
        fake.add_repo("acme/huge").meta.update(language="Python", size=900_000, topics=["cli"])
        fake.add_repo("acme/stale").meta.update(language="Python", pushed_at="2019-03-01T00:00:00Z")
        fake.add_repo("other/thing").meta.update(language="Python", topics=["cli"])
        yield fake


async def test_github_org_listing_pages_and_each_filter_says_why(github, runtime):
    client = GitHubClient(connection("github", github.url, github.token or ""), runtime)
    try:
        filters = CrawlFilters(languages=["python"], max_size_kb=100_000, pushed_since=datetime(2023, 1, 1))
        found = await decided(client, "github", CrawlScope(org="acme"), filters)
    finally:
        await client.aclose()
    assert len(found) == 108 and "other/thing" not in found
    assert len(github.seen("GET", r"/orgs/acme/repos$")) == 2  # two pages, followed by the Link header
    assert found["acme/lib000"] is None and found["acme/lib102"] is None
    assert found["acme/old"] == "archived"
    assert found["acme/forked"] == "fork"
    assert found["acme/tool"] == "language: Go not in python"
    assert found["acme/huge"] == "size: 900000 KB over 100000 KB"
    assert found["acme/stale"] == "pushed: last 2019-03-01, before 2023-01-01"
    assert sum(reason is None for reason in found.values()) == 103

    client = GitHubClient(connection("github", github.url, github.token or ""), runtime)
    try:
        opened = await decided(
            client, "github", CrawlScope(org="acme"), CrawlFilters(include_archived=True, include_forks=True)
        )
    finally:
        await client.aclose()
    assert opened["acme/old"] is None and opened["acme/forked"] is None and opened["acme/tool"] is None


async def test_github_topic_search_within_an_org_and_by_names(github, runtime):
    client = GitHubClient(connection("github", github.url, github.token or ""), runtime)
    try:
        in_org = await decided(client, "github", CrawlScope(topic="cli", org="acme"), CrawlFilters())
        anywhere = await decided(client, "github", CrawlScope(topic="cli"), CrawlFilters())
        named = await decided(client, "github", CrawlScope(names=["acme/tool", "other/thing"]), CrawlFilters())
    finally:
        await client.aclose()
    assert set(in_org) == {"acme/tool", "acme/huge"}
    assert set(anywhere) == {"acme/tool", "acme/huge", "other/thing"}
    assert set(named) == {"acme/tool", "other/thing"}
    assert github.seen("GET", r"/search/repositories$")[0].param("q") == "topic:cli org:acme"


@pytest.fixture
def gitlab():
    with FakeGitLab() as fake:
        fake.max_per_page = 2  # three pages for five projects
        fake.add_project("grp/api", languages={"Python": 91.5, "Shell": 8.5})
        fake.add_project("grp/sub/web", languages={"TypeScript": 70.0, "CSS": 30.0}, meta={"topics": ["ui"]})
        fake.add_project("grp/archive", meta={"archived": True}, languages={"Python": 100.0})
        fake.add_project(
            "grp/fork", meta={"forked_from_project": {"id": 99, "path_with_namespace": "up/fork"}}, languages={"C": 1.0}
        )
        fake.add_project(
            "grp/big",
            meta={"statistics": {"repository_size": 50 * 1024 * 1024}, "last_activity_at": "2020-01-01T00:00:00Z"},
            languages={"Python": 100.0},
        )
        fake.add_project("elsewhere/x", meta={"topics": ["ui"]})
        yield fake


async def test_gitlab_group_listing_with_subgroups_languages_and_filters(gitlab, runtime):
    client = GitLabClient(connection("gitlab", gitlab.url, GITLAB_TOKEN), runtime)
    try:
        everything = await decided(client, "gitlab", CrawlScope(group="grp"), CrawlFilters(max_size_kb=1024))
        python = await decided(client, "gitlab", CrawlScope(group="grp"), CrawlFilters(languages=["Python"]))
        recent = await decided(
            client, "gitlab", CrawlScope(group="grp"), CrawlFilters(pushed_since=datetime(2023, 1, 1, tzinfo=UTC))
        )
        topic = await decided(client, "gitlab", CrawlScope(topic="ui"), CrawlFilters())
        topic_in_group = await decided(client, "gitlab", CrawlScope(topic="ui", group="grp"), CrawlFilters())
    finally:
        await client.aclose()
    assert set(everything) == {"grp/api", "grp/sub/web", "grp/archive", "grp/fork", "grp/big"}
    assert len(gitlab.seen("GET", r"/groups/grp/projects$")) >= 3  # pages of two, followed to the end
    assert everything["grp/archive"] == "archived" and everything["grp/fork"] == "fork"
    assert everything["grp/big"] == "size: 51200 KB over 1024 KB" and everything["grp/api"] is None
    assert python["grp/api"] is None and python["grp/sub/web"] == "language: TypeScript not in Python"
    assert recent["grp/big"] == "pushed: last 2020-01-01, before 2023-01-01" and recent["grp/api"] is None
    assert set(topic) == {"grp/sub/web", "elsewhere/x"} and set(topic_in_group) == {"grp/sub/web"}


def test_scopes_are_checked_and_clone_urls_must_stay_on_the_connection_host():
    for bad, why in (
        ({}, "give one of"),
        ({"org": "a", "group": "b"}, "give one of org, group or workspace"),
        ({"names": ["noslash"]}, "full repository name"),
        ({"names": ["a/.."]}, "full repository name"),
        ({"names": ["a/b"], "org": "a"}, "cannot be combined"),
    ):
        with pytest.raises(ValidationError, match=why):
            CrawlScope.model_validate(bad)
    assert clone_refusal("https://api.github.com", "https://github.com/acme/api.git") is None
    assert clone_refusal("https://gitlab.example.com", "https://gitlab.example.com/g/p.git") is None
    assert "another host" in (clone_refusal("https://api.github.com", "https://evil.example/acme/api.git") or "")
    assert (
        clone_refusal("https://gitlab.example.com", "http://gitlab.example.com/g/p.git") == "the clone URL is not https"
    )
    assert "credentials" in (clone_refusal("https://gitlab.example.com", "https://u:p@gitlab.example.com/g.git") or "")


@pytest.fixture
def bitbucket():
    with FakeBitbucket() as fake:
        fake.page_cap = 2  # four pages for the workspace's seven repositories
        fake.add_repository("team/api", language="python", refs={"main": "a" * 40})
        fake.add_repository("team/web", language="typescript")
        fake.add_repository("team/fork", language="python", parent="upstream/api")
        fake.add_repository("team/big", language="python", size=200 * 1024 * 1024)
        fake.add_repository("team/stale", language="python", updated_on="2019-03-01T08:00:00.000000+00:00")
        fake.add_repository("team/go-tool", language="go")
        fake.add_repository("team/empty", mainbranch=None, language="")
        fake.add_repository("other/x", language="python")
        yield fake


def bitbucket_client(fake: FakeBitbucket, runtime) -> BitbucketClient:
    credentials = {"username": USERNAME, "password": APP_PASSWORD}
    info = ConnectionInfo(id=8, team_id=1, kind="bitbucket", name="bb", base_url=fake.url, credentials=credentials)
    return BitbucketClient(info, runtime)


async def test_bitbucket_workspace_listing_pages_and_each_filter_says_why(bitbucket, runtime):
    client = bitbucket_client(bitbucket, runtime)
    try:
        found = {}
        async for repo in listed(client, "bitbucket", CrawlScope(workspace="team"), CrawlFilters(), limit=1000):
            found[repo.full_name] = repo
        sized = await decided(client, "bitbucket", CrawlScope(workspace="team"), CrawlFilters(max_size_kb=100_000))
        forks = await decided(client, "bitbucket", CrawlScope(workspace="team"), CrawlFilters(include_forks=True))
        head = await head_commit(client, found["team/api"])
    finally:
        await client.aclose()
    assert sorted(found) == sorted(n for n in bitbucket.repositories if n.startswith("team/"))
    pages = bitbucket.seen("GET", r"/2.0/repositories/team$")
    assert len(pages) == 3 * 4  # each listing followed `next` through four pages
    assert pages[0].param("pagelen") == "100" and pages[0].param("q") is None
    api = found["team/api"]
    # The https clone link names the caller (ada@); the URL kept for the clone carries no user.
    assert api.clone_url == f"{bitbucket.url}/team/api.git"
    assert (api.language, api.size_kb, api.default_branch, api.archived) == ("python", 40, "main", False)
    assert api.pushed_at == datetime(2024, 6, 1, 12, tzinfo=UTC) and api.topics == ()
    assert found["team/empty"].default_branch is None and found["team/fork"].fork and not api.fork
    assert sized["team/fork"] == "fork" and sized["team/api"] is None and sized["team/web"] is None
    assert sized["team/big"] == "size: 204800 KB over 100000 KB"
    assert forks["team/fork"] is None
    assert head == "a" * 40 and bitbucket.seen("GET", r"/team/api/refs/branches/main$")


async def test_bitbucket_is_asked_to_leave_out_languages_and_stale_repositories(bitbucket, runtime):
    client = bitbucket_client(bitbucket, runtime)
    since = datetime(2023, 1, 1)  # naive: read as UTC
    try:
        python = await decided(client, "bitbucket", CrawlScope(workspace="team"), CrawlFilters(languages=["Python"]))
        asked_python = bitbucket.seen("GET", r"/2.0/repositories/team$")[-1].param("q")
        both = await decided(
            client,
            "bitbucket",
            CrawlScope(workspace="team"),
            CrawlFilters(languages=["Python", "Go"], pushed_since=since),
        )
        asked_both = bitbucket.seen("GET", r"/2.0/repositories/team$")[-1].param("q")
        named = await decided(
            client, "bitbucket", CrawlScope(names=["team/stale", "other/x"]), CrawlFilters(pushed_since=since)
        )
    finally:
        await client.aclose()
    assert asked_python == 'language = "python"'
    assert set(python) == {"team/api", "team/fork", "team/big", "team/stale"}  # Bitbucket left the rest out
    assert asked_both == '(language = "python" OR language = "go") AND updated_on >= 2023-01-01T00:00:00+00:00'
    assert set(both) == {"team/api", "team/fork", "team/big", "team/go-tool"}
    assert both["team/fork"] == "fork" and both["team/go-tool"] is None
    # Named repositories are read one by one (no query): the same filters apply to what Bitbucket reports.
    assert named == {"team/stale": "pushed: last 2019-03-01, before 2023-01-01", "other/x": None}


def test_bitbucket_scopes_are_checked_against_the_connection():
    CrawlScope(workspace="team").check_kind("bitbucket")
    CrawlScope(names=["team/api"]).check_kind("bitbucket")
    for scope, kind, why in (
        ({"topic": "ml"}, "bitbucket", "Bitbucket has no topics"),
        ({"workspace": "team/sub"}, "bitbucket", "one Bitbucket workspace slug"),
        ({"names": ["team/api/extra"]}, "bitbucket", "workspace/slug"),
        ({"org": "team"}, "bitbucket", "scope.org is for github"),
        ({"workspace": "team"}, "github", "scope.workspace is for bitbucket"),
        ({"workspace": "team"}, "gitlab", "scope.workspace is for bitbucket"),
        ({"workspace": "team"}, "jira", "cannot be crawled"),
    ):
        with pytest.raises(InvalidRequest, match=why):
            CrawlScope.model_validate(scope).check_kind(kind)
    with pytest.raises(ValidationError, match="no topics"):
        CrawlScope.model_validate({"workspace": "team", "topic": "ml"})
    assert clone_refusal("https://api.bitbucket.org", "https://bitbucket.org/team/api.git") is None
    assert "another host" in (clone_refusal("https://api.bitbucket.org", "https://api.bitbucket.org/t/a.git") or "")
