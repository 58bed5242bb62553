"""REST code search: indexing jobs (local paths and git URLs), their status, ownership, and /v1/search."""

from __future__ import annotations

import asyncio
import base64
import subprocess

import asyncpg
import pytest

from app.db.models import JobRecord, Repository
from app.search.index_job import KIND as INDEX_JOB
from app.search.index_job import job_payload
from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.git_server import GitHTTPServer
from tests.search.conftest import FILES, bare_repository, write_tree

SECRET_KEYS = "test:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
async def search_service(database_url, redis_url, tmp_path):
    (tmp_path / "allowed").mkdir()
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "search.local_roots": [str(tmp_path / "allowed")],
            "search.repos_dir": str(tmp_path / "clones"),
            "search.git_allowed_hosts": ["127.0.0.1"],  # the fake git server below
            "secrets.keys": SECRET_KEYS,
        },
    )
    running = await start_service(settings)
    yield running
    await stop_service(running)


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


async def wait_for_job(service, token, repo_id, timeout_s=60.0):
    async with asyncio.timeout(timeout_s):
        while True:
            repo = (await call(service, "GET", f"/v1/repositories/{repo_id}", token)).json()["data"]
            if repo["status"] in ("READY", "FAILED"):
                return repo
            await asyncio.sleep(0.2)


async def test_a_local_path_is_indexed_in_the_background_and_searchable(search_service, tmp_path):
    token = await search_service.issue_token()
    write_tree(tmp_path / "allowed" / "shop", FILES)
    created = await call(
        search_service,
        "POST",
        "/v1/repositories",
        token,
        json={"name": "shop", "path": str(tmp_path / "allowed" / "shop")},
    )
    assert created.status_code == 202
    queued = created.json()["data"]
    assert queued["status"] == "PENDING" and queued["source_kind"] == "local"
    repo = await wait_for_job(search_service, token, queued["id"])
    assert repo["status"] == "READY" and repo["files"] == 5 and repo["chunks"] >= 5, repo
    assert repo["embedding_model"] == "all-MiniLM-L6-v2" and repo["progress"]["phase"] == "done"
    listed = (await call(search_service, "GET", "/v1/repositories", token)).json()["data"]
    assert [r["name"] for r in listed] == ["shop"]

    found = await call(search_service, "GET", "/v1/search", token, params={"q": "open a TCP connection", "top_k": 3})
    results = found.json()["data"]["results"]
    assert found.status_code == 200 and 1 <= len(results) <= 3
    top = results[0]
    assert (top["repository"], top["path"]) == ("shop", "src/net/http_client.py")
    assert top["start_line"] >= 1 and top["end_line"] >= top["start_line"] and "def open_connection" in top["text"]
    go = (
        await call(search_service, "GET", "/v1/search", token, params={"q": "user", "language": "go", "mode": "fts"})
    ).json()["data"]["results"]
    assert go and {r["path"] for r in go} == {"server/users.go"}


async def test_a_repository_being_indexed_is_not_queued_twice_unless_forced(search_service, tmp_path):
    token = await search_service.issue_token()
    write_tree(tmp_path / "allowed" / "shop", FILES)
    body = {"name": "shop", "path": str(tmp_path / "allowed" / "shop")}
    repo_id = (await call(search_service, "POST", "/v1/repositories", token, json=body)).json()["data"]["id"]
    await wait_for_job(search_service, token, repo_id)
    await Repository.filter(id=repo_id).update(status="INDEXING")  # as while a worker runs it
    refused = await call(search_service, "POST", "/v1/repositories", token, json=body)
    assert refused.status_code == 409 and refused.json()["error"]["message"] == "CONFLICT"
    assert "force=true" in refused.text
    forced = await call(search_service, "POST", "/v1/repositories", token, json={**body, "force": True})
    assert forced.status_code == 202 and forced.json()["data"]["status"] == "PENDING"
    assert (await wait_for_job(search_service, token, repo_id))["status"] == "READY"


async def test_bad_requests_are_refused_and_change_nothing(search_service, tmp_path):
    token = await search_service.issue_token()
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = [
        ({"name": "x", "path": str(outside)}, "outside the directories"),
        ({"name": "x", "path": str(tmp_path / "allowed" / ".." / "outside")}, "outside the directories"),
        ({"name": "x", "path": str(tmp_path / "allowed" / "missing")}, "not a directory"),
        ({"name": "x", "git_url": "file:///etc"}, "git_url"),
        ({"name": "x", "git_url": "ext::sh -c touch% /tmp/pwned"}, "git_url"),
        ({"name": "x", "path": str(tmp_path / "allowed"), "git_url": "https://example.com/r.git"}, "exactly one"),
        ({"name": "bad name!", "path": str(tmp_path / "allowed")}, "name"),
    ]
    for name in (".", "..", ".git", "-x", "a/b", "a\\b", "shop\n", "sh\u0007op", "x" * 201, ""):
        cases.append(({"name": name, "path": str(tmp_path / "allowed")}, "name"))
    for body, message in cases:
        response = await call(search_service, "POST", "/v1/repositories", token, json=body)
        assert response.status_code == 422, (body, response.text)
        assert message in response.text, response.text
    assert await Repository.all().count() == 0
    bad_search = await call(search_service, "GET", "/v1/search", token, params={"q": "", "top_k": 0})
    assert bad_search.status_code == 422
    unauthenticated = await search_service.request("GET", "/v1/search", params={"q": "x"}, client_headers=False)
    assert unauthenticated.status_code in (400, 401)


async def test_without_local_roots_the_api_indexes_no_server_paths(database_url, redis_url, tmp_path):
    running = await start_service(make_settings(database_url, redis_url))
    try:
        token = await running.issue_token()
        response = await call(running, "POST", "/v1/repositories", token, json={"name": "x", "path": str(tmp_path)})
        assert response.status_code == 422 and "search.local_roots" in response.text
    finally:
        await stop_service(running)


async def test_repositories_of_another_team_are_invisible(search_service, tmp_path):
    mine = await search_service.issue_token(email="ada@example.com", team="core")
    theirs = await search_service.issue_token(email="eve@example.com", team="rivals")
    write_tree(tmp_path / "allowed" / "shop", FILES)
    repo_id = (
        await call(
            search_service,
            "POST",
            "/v1/repositories",
            mine,
            json={"name": "shop", "path": str(tmp_path / "allowed" / "shop")},
        )
    ).json()["data"]["id"]
    await wait_for_job(search_service, mine, repo_id)
    for path in (f"/v1/repositories/{repo_id}", "/v1/repositories/999999", "/v1/repositories/abc"):
        response = await call(search_service, "GET", path, theirs)
        assert response.status_code == 404, path
    assert (await call(search_service, "GET", "/v1/repositories", theirs)).json()["data"] == []
    hits = await call(search_service, "GET", "/v1/search", theirs, params={"q": "invoice total"})
    assert hits.json()["data"]["results"] == []
    named = await call(search_service, "GET", "/v1/search", theirs, params={"q": "invoice", "repo": "shop"})
    assert named.status_code == 404


@pytest.fixture
def git_http_server(tmp_path):
    """A bare repository behind git's smart HTTP server; yields (base URL, working copy, git env, bare dir)."""
    source, env, served = bare_repository(tmp_path)
    with GitHTTPServer(served) as server:
        yield server.base_url, source, env, served


async def test_a_git_url_is_cloned_indexed_and_refreshed(search_service, git_http_server, tmp_path):
    base, source, env, served = git_http_server
    token = await search_service.issue_token()
    created = await call(
        search_service, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": f"{base}/shop.git"}
    )
    assert created.status_code == 202 and created.json()["data"]["source_kind"] == "git"
    repo = await wait_for_job(search_service, token, created.json()["data"]["id"])
    assert repo["status"] == "READY" and repo["files"] == 5, repo
    assert (tmp_path / "clones").is_dir()

    # A new commit upstream: re-posting fetches it and re-indexes incrementally.
    (source / "src/net/http_client.py").unlink()
    for command in (
        ["git", "commit", "-q", "-am", "drop client"],
        ["git", "push", "-q", str(served / "shop.git"), "main"],
    ):
        await asyncio.to_thread(subprocess.run, command, cwd=source, check=True, env=env)
    await call(search_service, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": f"{base}/shop.git"})
    repo = await wait_for_job(search_service, token, repo["id"])
    assert repo["status"] == "READY" and repo["files"] == 4 and repo["progress"]["files_deleted"] == 1, repo


async def test_a_failed_clone_is_reported_without_credentials_or_git_output(search_service, git_http_server):
    base, *_ = git_http_server
    token = await search_service.issue_token()
    url = base.replace("http://", "http://ab:pw@") + "/missing.git"  # short user names are credentials too
    created = await call(search_service, "POST", "/v1/repositories", token, json={"name": "gone", "git_url": url})
    assert created.status_code == 202
    assert created.json()["data"]["source"] == base.replace("http://", "http://***@") + "/missing.git"
    repo = await wait_for_job(search_service, token, created.json()["data"]["id"])
    assert repo["status"] == "FAILED" and repo["error"].startswith("git could not clone the repository"), repo
    assert "not found" not in repo["error"] and "fatal" not in repo["error"]
    listing = (await call(search_service, "GET", "/v1/repositories", token)).text
    for leak in ("ab:pw", "//ab", ":pw@"):
        assert leak not in listing and leak not in created.text


async def test_refused_git_urls_answer_422_and_change_nothing(database_url, redis_url, tmp_path):
    running = await start_service(make_settings(database_url, redis_url, **{"search.repos_dir": str(tmp_path)}))
    try:
        token = await running.issue_token()
        urls = [
            "https://127.0.0.1/acme/shop.git",
            "http://127.0.0.1:8080/acme/shop.git",
            "https://0.0.0.0/acme/shop.git",
            "https://2130706433/acme/shop.git",
            "https://0x7f.1/acme/shop.git",
            "https://[::1]/acme/shop.git",
            "https://[::ffff:169.254.169.254]/latest.git",
            "https://169.254.169.254/latest.git",
            "https://localhost/acme/shop.git",
            "https://10.0.0.1/acme/shop.git",
            "http://8.8.8.8/acme/shop.git",  # public, but plain http needs the allow-list
            "ssh://git@github.com/acme/shop.git",
            "git@github.com:acme/shop.git",
            "https://github.com/acme/shop.git?access_token=ghp_0123456789abcdef",
        ]
        for url in urls:
            response = await call(running, "POST", "/v1/repositories", token, json={"name": "x", "git_url": url})
            assert response.status_code == 422, (url, response.text)
            assert "git_url" in response.text and "ghp_0123" not in response.text, response.text
        assert await Repository.all().count() == 0
        assert await running.app.ctx.redis.xlen("adj:jobs") == 0
    finally:
        await stop_service(running)


async def test_a_host_that_resolves_elsewhere_by_the_time_the_job_runs_is_not_cloned(database_url, redis_url, tmp_path):
    _, _, served = bare_repository(tmp_path)
    running = await start_service(make_settings(database_url, redis_url, **{"search.repos_dir": str(tmp_path / "c")}))
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public when posted, loopback when cloned

    async def rebinding(host, port):
        return next(answers)

    running.app.ctx.search.resolver = rebinding
    try:
        token = await running.issue_token()
        with GitHTTPServer(served) as server:
            url = f"https://rebind.example.com:{server.port}/shop.git"
            created = await call(running, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": url})
            assert created.status_code == 202, created.text
            repo = await wait_for_job(running, token, created.json()["data"]["id"])
        assert repo["status"] == "FAILED" and "public host" in repo["error"], repo
        assert server.requests == []
    finally:
        await stop_service(running)


async def test_repository_caps_fail_the_index_with_the_setting_to_raise(database_url, redis_url, tmp_path):
    write_tree(tmp_path / "allowed" / "shop", FILES)
    body = {"name": "shop", "path": str(tmp_path / "allowed" / "shop")}
    for setting, value in (("search.max_repository_files", 4), ("search.max_repository_bytes", 1024)):
        running = await start_service(
            make_settings(
                database_url, redis_url, **{"search.local_roots": [str(tmp_path / "allowed")], setting: value}
            )
        )
        try:
            token = await running.issue_token()
            created = await call(running, "POST", "/v1/repositories", token, json={**body, "force": True})
            repo = await wait_for_job(running, token, created.json()["data"]["id"])
            assert repo["status"] == "FAILED" and setting in repo["error"] and repo["files"] == 0, repo
        finally:
            await stop_service(running)


async def test_concurrent_posts_for_one_repository_queue_one_job(search_service, tmp_path):
    token = await search_service.issue_token()
    write_tree(tmp_path / "allowed" / "shop", FILES)
    body = {"name": "shop", "path": str(tmp_path / "allowed" / "shop")}

    async def post_all():
        return await asyncio.gather(
            *(call(search_service, "POST", "/v1/repositories", token, json=body) for _ in range(6))
        )

    first = await post_all()  # the row does not exist yet: all six race to create it
    assert sorted(r.status_code for r in first) == [202, 409, 409, 409, 409, 409], [r.text for r in first]
    assert await JobRecord.filter(kind=INDEX_JOB).count() == 1
    repo_id = next(r for r in first if r.status_code == 202).json()["data"]["id"]
    await wait_for_job(search_service, token, repo_id)
    again = await post_all()  # an existing, idle row
    assert sorted(r.status_code for r in again) == [202, 409, 409, 409, 409, 409]
    assert await JobRecord.filter(kind=INDEX_JOB).count() == 2
    assert (await wait_for_job(search_service, token, repo_id))["status"] == "READY"


async def raw_repository_rows(database_url) -> str:
    """Every column of every repositories row, as the database holds them."""
    connection = await asyncpg.connect(database_url)
    try:
        return repr([dict(row) for row in await connection.fetch("SELECT * FROM repositories")])
    finally:
        await connection.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_git_credentials_are_stored_sealed_and_still_authenticate_the_clone(
    search_service, database_url, tmp_path
):
    _, _, served = bare_repository(tmp_path)
    token = await search_service.issue_token()
    with GitHTTPServer(served) as server:
        url = server.base_url.replace("http://", "http://deploy:s3cr3t-t0ken@") + "/shop.git"
        created = await call(search_service, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": url})
        assert created.status_code == 202, created.text
        assert created.json()["data"]["source"] == server.base_url.replace("http://", "http://***@") + "/shop.git"
        rows = await raw_repository_rows(database_url)
        assert "s3cr3t-t0ken" not in rows and "deploy" not in rows, rows
        assert "'source_credentials': 'v1:test:" in rows, rows
        repo = await wait_for_job(search_service, token, created.json()["data"]["id"])
        assert repo["status"] == "READY" and repo["files"] == 5, repo
        assert server.requests and all(r.authorization == basic("deploy", "s3cr3t-t0ken") for r in server.requests)
    rows = await raw_repository_rows(database_url)
    assert "s3cr3t-t0ken" not in rows and "deploy" not in rows, rows


async def test_a_row_with_credentials_in_its_source_is_sealed_by_its_next_job(search_service, database_url, tmp_path):
    _, _, served = bare_repository(tmp_path)
    token = await search_service.issue_token()
    with GitHTTPServer(served) as server:
        clean = server.base_url + "/shop.git"
        created = await call(search_service, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": clean})
        repo_id = created.json()["data"]["id"]
        await wait_for_job(search_service, token, repo_id)
        # As a row written before credentials were sealed.
        legacy = server.base_url.replace("http://", "http://old:l3gacy-t0ken@") + "/shop.git"
        job = "0" * 32
        team_id = (await Repository.get(id=repo_id)).team_id
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "UPDATE repositories SET source = $1, status = 'PENDING', index_job = $2 WHERE id = $3",
                legacy,
                job,
                repo_id,
            )
        finally:
            await connection.close()
        server.requests.clear()
        await search_service.app.ctx.jobs.enqueue(INDEX_JOB, job_payload(repo_id, job), None, team_id)
        repo = await wait_for_job(search_service, token, repo_id)
        assert repo["status"] == "READY", repo
        assert server.requests and all(r.authorization == basic("old", "l3gacy-t0ken") for r in server.requests)
        rows = await raw_repository_rows(database_url)
        assert "l3gacy-t0ken" not in rows and f"'source': '{clean}'" in rows, rows

        # A sealed value that was altered does not open: the job fails saying so, and nothing is sent.
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "UPDATE repositories SET source_credentials = source_credentials || 'x', status = 'PENDING' "
                "WHERE id = $1",
                repo_id,
            )
        finally:
            await connection.close()
        server.requests.clear()
        await search_service.app.ctx.jobs.enqueue(INDEX_JOB, job_payload(repo_id, job), None, team_id)
        repo = await wait_for_job(search_service, token, repo_id)
        assert repo["status"] == "FAILED" and "cannot be decrypted" in repo["error"], repo
        assert server.requests == []


async def test_without_a_key_credentials_are_refused_and_nothing_is_stored(database_url, redis_url, tmp_path):
    _, _, served = bare_repository(tmp_path)
    settings = make_settings(
        database_url,
        redis_url,
        **{"search.repos_dir": str(tmp_path / "clones"), "search.git_allowed_hosts": ["127.0.0.1"]},
    )
    running = await start_service(settings)
    try:
        token = await running.issue_token()
        with GitHTTPServer(served) as server:
            url = server.base_url.replace("http://", "http://deploy:s3cr3t-t0ken@") + "/shop.git"
            refused = await call(running, "POST", "/v1/repositories", token, json={"name": "shop", "git_url": url})
            assert refused.status_code == 422 and "secrets.keys" in refused.text, refused.text
            assert "s3cr3t" not in refused.text
            assert await Repository.all().count() == 0
            assert await JobRecord.all().count() == 0
            assert server.requests == []
            # A URL without credentials needs no key.
            clean = {"name": "shop", "git_url": server.base_url + "/shop.git"}
            created = await call(running, "POST", "/v1/repositories", token, json=clean)
            assert created.status_code == 202, created.text
            assert (await wait_for_job(running, token, created.json()["data"]["id"]))["status"] == "READY"
    finally:
        await stop_service(running)
