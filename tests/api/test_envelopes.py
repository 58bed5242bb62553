"""docs/protocol.md §1: routing, envelopes and status codes, client validation, and errors that never leak."""

from __future__ import annotations

import pytest

from tests.conftest import CLIENT_HEADERS


def assert_error(response, status: int, message: str) -> dict:
    body = response.json()
    assert response.status_code == status, response.text
    assert body["is_success"] is False and body["status_code"] == status
    assert body["error"]["message"] == message
    assert isinstance(body["error"]["errors"], list) and body["error"]["errors"]
    assert response.headers["content-type"].startswith("application/json")
    return body


async def test_ping_is_bare_and_needs_nothing(service):
    response = await service.request("GET", "/ping", client_headers=False)
    assert response.status_code == 200 and response.json() == {"ping": "pong"}


async def test_unknown_routes_are_404_envelopes_not_html(service):
    assert_error(await service.request("GET", "/end_user/v1/no-such-route"), 404, "NOT_FOUND")
    assert_error(await service.request("GET", "/nothing-here", client_headers=False), 404, "NOT_FOUND")


async def test_wrong_method_is_a_405_envelope(service):
    assert_error(await service.request("DELETE", "/ping", client_headers=False), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    "path",
    [
        "/end_user/v1/ide-reviews/run-agent",
        "/end_user/v1/ide-reviews/legacy-post-process",
        "/end_user/v1/ide-reviews/reviews/7/feedback",
        "/end_user/v2/ide-reviews/start",
        "/end_user/v1/websocket-connection/connect",
        "/end_user/v1/binary-upload/get-presigned-url",
        "/end_user/v1/auth/sign-up",
        "/end_user/v1/websocket-test/connect",
    ],
)
async def test_out_of_scope_reference_routes_answer_501(service, path):
    assert_error(await service.request("POST", path, client_headers=False), 501, "NOT_IMPLEMENTED")


async def test_routes_match_with_or_without_one_trailing_slash(service):
    base = "/end_user/v1/configs/get-essential-configs"
    for path in (base, base + "/"):
        response = await service.request("GET", path, params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"})
        assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 102),
        ({"X-Client": "CURL"}, 103),
        ({"X-Client": "VSCODE_EXT"}, 104),
        ({"X-Client": "VSCODE_EXT", "X-Client-Version": "banana"}, 104),
    ],
)
async def test_client_headers_are_validated_on_end_user_routes(service, headers, code):
    response = await service.request(
        "GET",
        "/end_user/v1/configs/get-configs",
        client_headers=False,
        headers=headers,
        params={"consumer": "VSCODE_EXT"},
    )
    body = response.json()
    assert response.status_code == 400 and body["status_code"] == 400 and not body["is_success"]
    assert body["error_code"] == code and body["meta"]["error_code"] == code
    assert body["error"]["message"]


async def test_outdated_clients_get_the_force_upgrade_error(service):
    response = await service.request(
        "GET",
        "/end_user/v1/configs/get-configs",
        client_headers=False,
        headers={"X-Client": "VSCODE_EXT", "X-Client-Version": "13.9.9"},
        params={"consumer": "VSCODE_EXT"},
    )
    body = assert_error(response, 400, "INVALID_CLIENT_VERSION")
    assert body["error_code"] == 101
    assert body["meta"] == {
        "error_code": 101,
        "upgrade_version": "14.0.0",
        "client_download_link": service.app.ctx.settings.client.download_link,
    }


async def test_bootstrap_config_is_exempt_from_the_version_check_but_not_the_client_check(service):
    params = {"consumer": "VSCODE_EXT", "os": "darwin", "arch": "arm64"}
    old = await service.request(
        "GET",
        "/end_user/v1/configs/get-essential-configs",
        client_headers=False,
        headers={"X-Client": "VSCODE_EXT", "X-Client-Version": "1.0.0"},
        params=params,
    )
    assert old.status_code == 200
    anonymous = await service.request(
        "GET", "/end_user/v1/configs/get-essential-configs", client_headers=False, params=params
    )
    assert anonymous.json()["error_code"] == 102


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc", "Bearer adj_" + "A" * 43])
async def test_unusable_tokens_are_400_not_verified(service, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await service.request(
        "GET", "/end_user/v1/configs/get-configs", headers=headers, params={"consumer": "VSCODE_EXT"}
    )
    assert_error(response, 400, "NOT_VERIFIED")


async def test_query_validation_is_422_invalid_request(service, issue_token):
    token = await issue_token()
    response = await service.request(
        "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "EMACS"}
    )
    body = assert_error(response, 422, "INVALID_REQUEST")
    assert any("consumer" in e["message"] for e in body["error"]["errors"])


async def test_body_that_is_not_json_is_422(service, issue_token):
    token = await issue_token()
    response = await service.request(
        "POST",
        "/end_user/v1/auth/verify-auth-token",
        token=token,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 422, "INVALID_REQUEST")
    response = await service.request("POST", "/end_user/v1/auth/verify-auth-token", token=token, json=[1, 2])
    assert_error(response, 422, "INVALID_REQUEST")


async def test_oversized_bodies_are_413(servers, database_url, redis_url):
    from tests.conftest import make_settings, start_service, stop_service

    service = await start_service(make_settings(database_url, redis_url, **{"server.request_max_bytes": 2048}))
    try:
        response = await service.request("POST", "/end_user/v1/auth/verify-auth-token", content=b"x" * 4096)
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    finally:
        await stop_service(service)


async def test_unexpected_failures_are_500_without_internals(service):
    class Exploding:
        @property
        def vscode(self):
            raise RuntimeError("secret internal detail /etc/passwd")

    token = await service.issue_token()
    service.app.ctx.client_config = Exploding()
    response = await service.request(
        "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "VSCODE_EXT"}
    )
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert body["error"]["errors"] == [{"message": "internal error"}]


async def test_every_response_carries_a_request_id(service):
    response = await service.request("GET", "/ping", client_headers=False, headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await service.request("GET", "/ping", client_headers=False, headers={"X-Request-ID": "x" * 65})
    assert generated.headers["x-request-id"] != "x" * 65 and len(generated.headers["x-request-id"]) == 32


async def test_client_header_names_are_case_insensitive(service):
    response = await service.request(
        "GET",
        "/end_user/v1/configs/get-essential-configs",
        client_headers=False,
        headers={"x-client": "VSCODE_EXT", "X-CLIENT-VERSION": "16.1.0"},
        params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
    )
    assert response.status_code == 200
    assert CLIENT_HEADERS  # the default headers the other tests send are exactly the reference client's
