"""Crawls over HTTP, end to end: an organisation on the fake GitHub whose clone URLs point at a real git server
is listed, filtered and indexed (one index job per repository); a second crawl finds nothing new; a push makes
the next crawl index that one repository again; a Bitbucket workspace and a GitLab group crawl alike, cloning
with the connection's credentials; a rate limit pauses a crawl, which then resumes; another team's connection
or crawl answers exactly like an unknown one."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.db.models import JobRecord, Repository
from app.search.index_job import KIND as INDEX_JOB
from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.bitbucket_server import APP_PASSWORD, USERNAME, FakeBitbucket
from tests.fakes.git_server import GitHTTPServer
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab_server import FakeGitLab
from tests.search.conftest import write_tree

SECRET_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()
ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@e",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@e",
    "PATH": "/usr/bin:/bin",
}
SOURCES = {
    "acme/billing": {"billing/invoice.py": "def total_amount(items):\n    return sum(items)\n"},
    "acme/web": {"src/cart.ts": "export function cartTotal(xs: number[]): number { return xs.length; }\n"},
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, env=ENV, capture_output=True, text=True).stdout.strip()


def publish(root: Path, full_name: str, files: dict[str, str]) -> tuple[Path, str]:
    """A working copy committed and pushed to `root/<full_name>.git`: (working copy, head commit)."""
    work = root / "work" / full_name
    write_tree(work, files)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "init")
    bare = root / "served" / f"{full_name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, env=ENV)
    return work, git(work, "rev-parse", "HEAD")


@pytest.fixture
def remotes(tmp_path):
    heads = {name: publish(tmp_path, name, files) for name, files in SOURCES.items()}
    with GitHTTPServer(tmp_path / "served") as server, FakeGitHub() as github:
        github.clone_base = server.base_url
        for name, (_, sha) in heads.items():
            github.add_repo(name).branches["main"] = sha
        github.repos["acme/billing"].meta.update(language="Python")
        github.repos["acme/web"].meta.update(language="TypeScript")
        github.add_repo("acme/legacy").meta.update(archived=True)
        github.add_repo("acme/upstream-fork").meta.update(fork=True)
        github.add_repo("acme/moved").meta.update(clone_url="http://localhost:1/acme/moved.git")
        yield github, server, heads


@pytest.fixture
async def running(database_url, redis_url, tmp_path):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "secrets.keys": SECRET_KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            "integrations.max_rate_wait_s": 0.0,  # a rate limit reaches the crawl at once
            "search.git_allowed_hosts": ["127.0.0.1"],
            "search.repos_dir": str(tmp_path / "clones"),
            "jobs.poll_ms": 50,
        },
    )
    service = await start_service(settings)
    yield service
    await stop_service(service)


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


async def connect(service, token, github: FakeGitHub, name: str = "gh") -> str:
    body = {"kind": "github", "name": name, "base_url": github.url, "credentials": {"token": github.token}}
    added = await call(service, "POST", "/v1/integrations", token, json=body)
    assert added.status_code == 201, added.text
    return added.json()["data"]["id"]


async def crawled(service, token, body: dict, *, seen: set[str] | None = None) -> dict:
    asked = await call(service, "POST", "/v1/crawls", token, json=body)
    assert asked.status_code == 202, asked.text
    assert asked.json()["data"]["status"] == "QUEUED"
    crawl_id = asked.json()["data"]["id"]
    view: dict = {}
    for _ in range(1200):
        view = (await call(service, "GET", f"/v1/crawls/{crawl_id}", token)).json()["data"]
        if seen is not None:
            seen.add(view["status"])
        if view["status"] in ("SUCCEEDED", "FAILED"):
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"crawl {crawl_id} did not finish: {view}")


def states(view: dict) -> dict[str, tuple[str, str | None]]:
    return {r["full_name"]: (r["state"], r["skipped_reason"]) for r in view["repositories"]}


async def test_an_org_is_indexed_once_and_a_second_crawl_indexes_only_what_moved(running, remotes):
    github, server, heads = remotes
    token = await running.issue_token()
    await connect(running, token, github)
    body = {"connection": "gh", "scope": {"org": "acme"}}

    first = await crawled(running, token, body)
    assert first["status"] == "SUCCEEDED", first
    assert first["progress"] == {
        "listed": 5,
        "filtered": 2,
        "filtered_reasons": {"archived": 1, "fork": 1},
        "skipped": 1,
        "unchanged": 0,
        "queued": 0,
        "indexed": 2,
        "failed": 0,
        "pauses": 0,
    }
    by_name = states(first)
    assert by_name["acme/legacy"] == ("FILTERED", "archived")
    assert by_name["acme/upstream-fork"] == ("FILTERED", "fork")
    assert by_name["acme/moved"][0] == "SKIPPED" and "another host (localhost)" in by_name["acme/moved"][1]
    rows = {r["full_name"]: r for r in first["repositories"]}
    assert rows["acme/billing"]["last_indexed_commit"] == heads["acme/billing"][1]
    # The clone used the connection's token (sealed on the repository row), and nothing was fetched from the
    # refused host.
    assert any(r.authorization for r in server.requests) and not any("moved" in r.path for r in server.requests)

    repos = (await call(running, "GET", "/v1/repositories", token)).json()["data"]
    assert {r["name"]: r["status"] for r in repos} == {"acme__billing": "READY", "acme__web": "READY"}
    found = await call(running, "GET", "/v1/search", token, params={"q": "total amount", "mode": "fts"})
    assert found.json()["data"]["results"][0]["repository"] == "acme__billing"
    index_jobs = await JobRecord.filter(kind=INDEX_JOB).count()
    assert index_jobs == 2

    second = await crawled(running, token, body)
    assert second["progress"]["unchanged"] == 2 and second["progress"]["indexed"] == 0, second
    assert await JobRecord.filter(kind=INDEX_JOB).count() == 2  # nothing new queued

    work, _ = heads["acme/web"]
    (work / "src" / "checkout.ts").write_text("export const checkout = () => 'paid';\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "checkout")
    git(work, "push", "-q", str(work.parents[2] / "served" / "acme/web.git"), "main")
    github.repos["acme/web"].branches["main"] = git(work, "rev-parse", "HEAD")
    third = await crawled(running, token, body | {"filters": {"languages": ["typescript"]}})
    assert third["progress"]["indexed"] == 1 and third["progress"]["filtered_reasons"]["language"] == 2, third
    assert states(third)["acme/billing"] == ("FILTERED", "language: Python not in typescript")
    assert await JobRecord.filter(kind=INDEX_JOB).count() == 3

    listed = (await call(running, "GET", "/v1/crawls", token)).json()["data"]["crawls"]
    assert [c["id"] for c in listed] == [third["id"], second["id"], first["id"]]
    assert "repositories" not in listed[0] or listed[0]["repositories"] is None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def connected(service, token, body: dict) -> None:
    added = await call(service, "POST", "/v1/integrations", token, json=body)
    assert added.status_code == 201, added.text


async def crawled_twice_and_searchable(service, token, body: dict, expected: dict, query: str, found_in: str):
    """The first crawl reports `expected` and makes `query` find `found_in`; the second indexes nothing new."""
    first = await crawled(service, token, body)
    assert first["status"] == "SUCCEEDED", first
    assert first["progress"] == expected | {"unchanged": 0, "queued": 0, "failed": 0, "pauses": 0}, first
    found = await call(service, "GET", "/v1/search", token, params={"q": query, "mode": "fts"})
    assert found.json()["data"]["results"][0]["repository"] == found_in
    jobs = await JobRecord.filter(kind=INDEX_JOB).count()
    assert jobs == expected["indexed"]
    second = await crawled(service, token, body)
    assert second["progress"]["unchanged"] == expected["indexed"] and second["progress"]["indexed"] == 0, second
    assert await JobRecord.filter(kind=INDEX_JOB).count() == jobs
    return first


async def test_a_bitbucket_workspace_is_crawled_with_the_app_password_as_clone_credentials(running, tmp_path):
    heads = {
        "team/billing": publish(tmp_path, "team/billing", SOURCES["acme/billing"])[1],
        "team/web": publish(tmp_path, "team/web", SOURCES["acme/web"])[1],
    }
    with GitHTTPServer(tmp_path / "served") as server, FakeBitbucket() as bitbucket:
        bitbucket.clone_base = server.base_url
        bitbucket.page_cap = 2  # the listing takes two pages
        for name, sha in heads.items():
            bitbucket.add_repository(name, language="python", refs={"main": sha})
        bitbucket.add_repository("team/fork", parent="upstream/billing", refs={"main": heads["team/billing"]})
        bitbucket.add_repository("team/empty", mainbranch=None)
        token = await running.issue_token()
        credentials = {"username": USERNAME, "password": APP_PASSWORD}
        body = {"kind": "bitbucket", "name": "bb", "base_url": bitbucket.url, "credentials": credentials}
        await connected(running, token, body)

        for bad in ({"topic": "ml"}, {"names": ["team/billing/x"]}, {"org": "team"}):
            refused = await call(running, "POST", "/v1/crawls", token, json={"connection": "bb", "scope": bad})
            assert refused.status_code == 422, (bad, refused.text)
        assert (await call(running, "GET", "/v1/crawls", token)).json()["data"]["crawls"] == []

        expected = {"listed": 4, "filtered": 1, "filtered_reasons": {"fork": 1}, "skipped": 1, "indexed": 2}
        first = await crawled_twice_and_searchable(
            running,
            token,
            {"connection": "bb", "scope": {"workspace": "team"}},
            expected,
            "total amount",
            "team__billing",
        )
        assert len(bitbucket.seen("GET", r"/2.0/repositories/team$")) == 2 * 2
    by_name = states(first)
    assert by_name["team/fork"] == ("FILTERED", "fork")
    assert by_name["team/empty"] == ("SKIPPED", "the repository is empty")
    assert {r["full_name"]: r["last_indexed_commit"] for r in first["repositories"] if r["state"] == "INDEXED"} == heads
    # git was given the username and app password as basic auth; the stored source carries neither.
    fetched = [r for r in server.requests if r.path.startswith("/team/")]
    assert fetched and {r.authorization for r in fetched} == {basic(USERNAME, APP_PASSWORD)}
    sources = {r.name: (r.source, r.source_credentials) for r in await Repository.all()}
    assert sources["team__billing"][0] == f"{server.base_url}/team/billing.git"
    assert all(
        USERNAME not in s and APP_PASSWORD not in s and s.startswith("http://127.0.0.1") for s, _ in sources.values()
    )
    assert all(sealed and APP_PASSWORD not in sealed for _, sealed in sources.values())


async def test_a_gitlab_group_is_crawled_with_its_token_as_clone_credentials(running, tmp_path):
    heads = {
        "grp/billing": publish(tmp_path, "grp/billing", SOURCES["acme/billing"])[1],
        "grp/sub/web": publish(tmp_path, "grp/sub/web", SOURCES["acme/web"])[1],
    }
    with GitHTTPServer(tmp_path / "served") as server, FakeGitLab() as gitlab:
        gitlab.clone_base = server.base_url
        gitlab.max_per_page = 2
        for name, sha in heads.items():
            gitlab.add_project(name, refs={"main": sha}, languages={"Python": 100.0})
        gitlab.add_project("grp/old", refs={"main": heads["grp/billing"]}, meta={"archived": True})
        gitlab.add_project("elsewhere/x", refs={"main": heads["grp/billing"]})
        token = await running.issue_token()
        body = {"kind": "gitlab", "name": "gl", "base_url": gitlab.url, "credentials": {"token": GITLAB_TOKEN}}
        await connected(running, token, body)

        expected = {"listed": 3, "filtered": 1, "filtered_reasons": {"archived": 1}, "skipped": 0, "indexed": 2}
        first = await crawled_twice_and_searchable(
            running, token, {"connection": "gl", "scope": {"group": "grp"}}, expected, "cart total", "grp__sub__web"
        )
    assert states(first)["grp/old"] == ("FILTERED", "archived")
    assert {r["full_name"]: r["last_indexed_commit"] for r in first["repositories"] if r["state"] == "INDEXED"} == heads
    fetched = [r for r in server.requests if r.path.startswith("/grp/")]
    assert fetched and {r.authorization for r in fetched} == {basic("oauth2", GITLAB_TOKEN)}
    assert not any("elsewhere" in r.path for r in server.requests)


async def test_a_rate_limit_pauses_the_crawl_which_then_resumes(running, remotes):
    github, _, _ = remotes
    token = await running.issue_token()
    await connect(running, token, github)
    # The branch lookup of the first repository is refused as GitHub's secondary limit answers: 403 with
    # Retry-After. The crawl waits it out and goes on from where it was.
    github.fail_next(
        403,
        body={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "2"},
        path=r"/git/ref/heads/main$",
    )
    seen: set[str] = set()
    view = await crawled(running, token, {"connection": "gh", "scope": {"names": ["acme/billing"]}}, seen=seen)
    assert view["status"] == "SUCCEEDED" and view["progress"]["pauses"] == 1, view
    assert view["progress"]["indexed"] == 1 and "PAUSED" in seen
    refs = github.seen("GET", r"/repos/acme/billing/git/ref/heads/main$")
    assert len(refs) == 2  # refused once, then asked again after the pause


async def test_bad_crawls_change_nothing_and_foreign_ids_look_unknown(running, remotes):
    github, _, _ = remotes
    owner = await running.issue_token()
    other = await running.issue_token(email="else@example.com", team="elsewhere")
    await connect(running, owner, github)

    unknown = await call(running, "POST", "/v1/crawls", other, json={"connection": "nope", "scope": {"org": "acme"}})
    foreign = await call(running, "POST", "/v1/crawls", other, json={"connection": "gh", "scope": {"org": "acme"}})
    assert unknown.status_code == foreign.status_code == 404
    assert unknown.json()["error"] == foreign.json()["error"]

    for bad in (
        {"connection": "gh", "scope": {}},
        {"connection": "gh", "scope": {"group": "acme"}},  # a GitLab scope on a GitHub connection
        {"connection": "gh", "scope": {"org": "acme"}, "filters": {"max_size_kb": -1}},
        {"connection": "gh", "scope": {"names": ["../etc"]}},
    ):
        refused = await call(running, "POST", "/v1/crawls", owner, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await call(running, "GET", "/v1/crawls", owner)).json()["data"]["crawls"] == []

    done = await crawled(running, owner, {"connection": "gh", "scope": {"names": ["acme/legacy"]}})
    assert done["progress"]["filtered"] == 1
    theirs = await call(running, "GET", f"/v1/crawls/{done['id']}", other)
    missing = await call(running, "GET", "/v1/crawls/999999", other)
    garbage = await call(running, "GET", "/v1/crawls/not-an-id", other)
    assert theirs.status_code == missing.status_code == garbage.status_code == 404
    assert theirs.json()["error"] == missing.json()["error"]
    assert (await call(running, "GET", "/v1/crawls", other)).json()["data"]["crawls"] == []


def adjutant(database_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        ADJUTANT_LOGGING__FORMAT="json",
        ADJUTANT_SECRETS__KEYS=SECRET_KEYS,
    )
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "crawl", *args], env=env, capture_output=True, text=True, timeout=300
    )


async def test_the_cli_starts_follows_and_lists_crawls(running, remotes, database_url, redis_url):
    github, _, _ = remotes
    token = await running.issue_token()
    await connect(running, token, github)
    # The service's embedded worker runs what the command queues.
    started = await asyncio.to_thread(
        adjutant, database_url, redis_url, "start", "--connection", "gh", "--name", "acme/billing",
        "--name", "acme/legacy", "--team", "core", "--wait", "--json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    view = json.loads(started.stdout)
    assert view["status"] == "SUCCEEDED" and view["progress"]["indexed"] == 1 and view["progress"]["filtered"] == 1

    status = await asyncio.to_thread(adjutant, database_url, redis_url, "status", str(view["id"]), "--team", "core")
    assert status.returncode == 0, status.stderr
    assert f"crawl {view['id']} SUCCEEDED: 2 listed, 1 filtered" in status.stdout
    assert "acme/legacy\tFILTERED\tarchived" in status.stdout
    listed = await asyncio.to_thread(adjutant, database_url, redis_url, "list", "--team", "core", "--json")
    assert [c["id"] for c in json.loads(listed.stdout)] == [view["id"]]

    await running.issue_token(email="else@example.com", team="else")
    theirs = await asyncio.to_thread(adjutant, database_url, redis_url, "status", str(view["id"]), "--team", "else")
    assert theirs.returncode == 2 and "crawl not found" in theirs.stderr
    bad = await asyncio.to_thread(adjutant, database_url, redis_url, "start", "--connection", "gh", "--team", "core")
    assert bad.returncode == 2 and "give one of org, group, workspace, topic or names" in bad.stderr
