"""Team connections over HTTP: credentials sealed and never returned, checked base URLs, team isolation, tests
that report identity and scopes, and nothing secret in responses, logs or the database in clear."""

from __future__ import annotations

import base64
import json
import logging

import asyncpg
import pytest

from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.gitlab_server import TOKEN, FakeGitLab

SECRET_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()
WEBHOOK_SECRET = "whsec-very-private-123"


@pytest.fixture
async def running(database_url, redis_url):
    settings = make_settings(
        database_url,
        redis_url,
        **{"secrets.keys": SECRET_KEYS, "integrations.allowed_hosts": ["127.0.0.1"], "integrations.max_retries": 0},
    )
    service = await start_service(settings)
    yield service
    await stop_service(service)


@pytest.fixture
def gitlab():
    with FakeGitLab() as fake:
        yield fake


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


def gitlab_body(url: str, **extra) -> dict:
    return {"kind": "gitlab", "name": "gl", "base_url": url, "credentials": {"token": TOKEN}} | extra


async def test_a_connection_is_added_listed_tested_and_removed_without_its_secrets_ever_shown(
    running, gitlab, database_url, caplog
):
    caplog.set_level(logging.DEBUG)
    token = await running.issue_token()
    created = await call(
        running, "POST", "/v1/integrations", token, json=gitlab_body(gitlab.url, webhook_secret=WEBHOOK_SECRET)
    )
    assert created.status_code == 201, created.text
    view = created.json()["data"]
    assert view["kind"] == "gitlab" and view["auth_type"] == "token" and view["has_webhook_secret"] is True
    assert view["webhook_path"].startswith("/v1/webhooks/gitlab/") and view["id"].startswith("con_")
    listed = await call(running, "GET", "/v1/integrations", token)
    assert [c["name"] for c in listed.json()["data"]] == ["gl"]

    tested = await call(running, "POST", f"/v1/integrations/{view['id']}/test", token)
    result = tested.json()["data"]
    assert tested.status_code == 200 and result["ok"] is True, result
    assert result["identity"]["login"] == "ada" and "api" in result["identity"]["scopes"]
    assert result["connection"]["last_test"]["ok"] is True
    assert gitlab.seen("GET", "/user")[0].headers["private-token"] == TOKEN, "the fake saw the real token"

    for response in (created, listed, tested):
        assert TOKEN not in response.text and WEBHOOK_SECRET not in response.text
    assert TOKEN not in caplog.text and WEBHOOK_SECRET not in caplog.text
    connection = await asyncpg.connect(database_url)
    try:
        row = dict(await connection.fetchrow("SELECT * FROM integrations"))
    finally:
        await connection.close()
    stored = json.dumps(row, default=str)
    assert TOKEN not in stored and WEBHOOK_SECRET not in stored and row["credentials_sealed"].startswith("v1:k1:")

    removed = await call(running, "DELETE", f"/v1/integrations/{view['id']}", token)
    assert removed.status_code == 200
    assert (await call(running, "GET", f"/v1/integrations/{view['id']}", token)).status_code == 404


async def test_refused_credentials_are_a_failed_test_result_not_an_error(running, gitlab):
    token = await running.issue_token()
    body = gitlab_body(gitlab.url) | {"credentials": {"token": "glpat-wrong"}}
    created = (await call(running, "POST", "/v1/integrations", token, json=body)).json()["data"]
    tested = await call(running, "POST", f"/v1/integrations/{created['id']}/test", token)
    result = tested.json()["data"]
    assert tested.status_code == 200 and result["ok"] is False
    assert result["error_code"] == "INTEGRATION_AUTH_FAILED" and "glpat-wrong" not in tested.text
    assert result["connection"]["last_test"]["ok"] is False


async def test_another_team_cannot_see_test_or_remove_a_connection(running, gitlab):
    ada = await running.issue_token("ada@example.com", team="core")
    mallory = await running.issue_token("mallory@example.com", team="other")
    created = (await call(running, "POST", "/v1/integrations", ada, json=gitlab_body(gitlab.url))).json()["data"]
    assert (await call(running, "GET", "/v1/integrations", mallory)).json()["data"] == []
    for method, path in (
        ("GET", f"/v1/integrations/{created['id']}"),
        ("POST", f"/v1/integrations/{created['id']}/test"),
        ("DELETE", f"/v1/integrations/{created['id']}"),
        ("GET", "/v1/integrations/gl"),  # by name, too
        ("GET", "/v1/integrations/con_doesnotexist"),
    ):
        response = await call(running, method, path, mallory)
        assert response.status_code == 404 and response.json()["error"]["message"] == "CONNECTION_NOT_FOUND"
    assert not gitlab.seen("GET", "/user"), "nothing was called for the other team"
    assert (await call(running, "GET", f"/v1/integrations/{created['id']}", ada)).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"kind": "gitlab", "name": "x", "credentials": {"email": "a@b.c", "api_token": "t"}}, "gitlab credentials must be token"),
        ({"kind": "jira", "name": "x", "credentials": {"token": "t"}}, "jira needs base_url"),
        ({"kind": "github", "name": "bad name!", "credentials": {"token": "t"}}, "name"),
        ({"kind": "github", "name": "x", "credentials": {"token": "t"}, "options": {"nope": 1}}, "unknown option"),
        ({"kind": "gitlab", "name": "x", "base_url": "https://u:p@gitlab.example.com", "credentials": {"token": "t"}}, "credentials"),
        ({"kind": "svn", "name": "x", "credentials": {"token": "t"}}, "kind"),
    ],
)  # fmt: skip
async def test_invalid_connections_are_refused_and_nothing_is_stored(running, body, fragment):
    token = await running.issue_token()
    response = await call(running, "POST", "/v1/integrations", token, json=body)
    assert response.status_code == 422 and fragment in response.text, response.text
    assert '"t"' not in response.text
    assert (await call(running, "GET", "/v1/integrations", token)).json()["data"] == []


async def test_private_addresses_need_the_allow_list_and_only_allow_listed_hosts_may_use_http(running):
    token = await running.issue_token()
    for url, reason in (("http://10.1.2.3", "not a public address"), ("http://169.254.169.254", "not a public")):
        response = await call(running, "POST", "/v1/integrations", token, json=gitlab_body(url))
        assert response.status_code == 422 and reason in response.text
    duplicate = gitlab_body("http://127.0.0.1:1")
    assert (await call(running, "POST", "/v1/integrations", token, json=duplicate)).status_code == 201
    again = await call(running, "POST", "/v1/integrations", token, json=duplicate)
    assert again.status_code == 409


async def test_without_a_key_connections_are_refused_with_the_fix(database_url, redis_url):
    settings = make_settings(database_url, redis_url, **{"integrations.allowed_hosts": ["127.0.0.1"]})
    service = await start_service(settings)
    try:
        token = await service.issue_token()
        response = await call(service, "POST", "/v1/integrations", token, json=gitlab_body("http://127.0.0.1:1"))
        assert response.status_code == 422 and "secrets.keys" in response.text
    finally:
        await stop_service(service)


async def test_only_an_admin_adds_or_removes_connections_and_members_still_use_them(running, gitlab):
    from app.db.repositories import identity

    admin = await running.issue_token("first@example.com", team="core")  # a team's first member is its admin
    member = await running.issue_token("second@example.com", team="core")
    refused = await call(running, "POST", "/v1/integrations", member, json=gitlab_body(gitlab.url))
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "FORBIDDEN"
    assert "admin role" in refused.text
    created = (await call(running, "POST", "/v1/integrations", admin, json=gitlab_body(gitlab.url))).json()["data"]
    assert (await call(running, "GET", "/v1/integrations", member)).json()["data"][0]["id"] == created["id"]
    assert (await call(running, "POST", f"/v1/integrations/{created['id']}/test", member)).json()["data"]["ok"]
    assert (await call(running, "DELETE", f"/v1/integrations/{created['id']}", member)).status_code == 403
    second = await identity.user_by_email("second@example.com")
    core = await identity.team_named("core")
    assert await identity.set_membership_role(second.id, core.id, "admin")
    assert (await call(running, "DELETE", f"/v1/integrations/{created['id']}", member)).status_code == 200
