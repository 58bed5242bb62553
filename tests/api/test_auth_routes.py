"""docs/protocol.md §2: verify route states, new_session_data rotation on success and error, browser login polling."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.auth.tokens import TOKEN_PATTERN, hash_token, utcnow
from app.db.models import ApiToken

VERIFY = "/end_user/v1/auth/verify-auth-token"


async def set_expiry(raw: str, delta: timedelta) -> None:
    await ApiToken.filter(token_hash=hash_token(raw)).update(expires_at=utcnow() + delta)


async def test_verify_reports_a_valid_token(service, issue_token):
    token = await issue_token(email="ada@example.com")
    response = await service.request("POST", VERIFY, token=token, json={})
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "VERIFIED", "user_email": "ada@example.com", "user_name": "ada"}
    assert "new_session_data" not in response.headers


async def test_verify_reports_unusable_tokens_with_200_not_verified(service):
    for headers in ({}, {"Authorization": "Bearer adj_" + "B" * 43}):
        response = await service.request("POST", VERIFY, headers=headers)  # empty body counts as {}
        assert response.status_code == 200 and response.json()["data"] == {"status": "NOT_VERIFIED"}


async def test_verify_refreshes_an_expired_token_and_rotation_is_idempotent(service, issue_token):
    token = await issue_token()
    await set_expiry(token, -timedelta(hours=1))
    first = (await service.request("POST", VERIFY, token=token, json={})).json()["data"]
    assert first["status"] == "EXPIRED" and TOKEN_PATTERN.match(first["encrypted_session_data"])
    second = (await service.request("POST", VERIFY, token=token, json={})).json()["data"]
    assert second["encrypted_session_data"] == first["encrypted_session_data"]
    fresh = (await service.request("POST", VERIFY, token=first["encrypted_session_data"], json={})).json()["data"]
    assert fresh["status"] == "VERIFIED"


async def test_grace_period_is_honoured_only_when_asked_for(service, issue_token, settings):
    token = await issue_token()
    await set_expiry(token, -timedelta(days=settings.auth.refresh_window_days + 1))
    assert (await service.request("POST", VERIFY, token=token, json={})).json()["data"]["status"] == "NOT_VERIFIED"
    graced = (await service.request("POST", VERIFY, token=token, json={"enable_grace_period": True})).json()["data"]
    assert graced["status"] == "EXPIRED" and graced["encrypted_session_data"]


async def test_near_expiry_requests_are_served_with_the_replacement_header(service, issue_token):
    token = await issue_token()
    await set_expiry(token, timedelta(hours=1))
    ok = await service.request("GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "BINARY"})
    assert ok.status_code == 200
    replacement = ok.headers["new_session_data"]
    assert TOKEN_PATTERN.match(replacement)
    # On an error response too, and the same replacement again (idempotent rotation).
    bad = await service.request("GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "X"})
    assert bad.status_code == 422 and bad.headers["new_session_data"] == replacement
    # The old token still works during the overlap window; the new one carries no further rotation.
    fresh = await service.request(
        "GET", "/end_user/v1/configs/get-configs", token=replacement, params={"consumer": "BINARY"}
    )
    assert fresh.status_code == 200 and "new_session_data" not in fresh.headers


async def test_revoked_tokens_are_rejected_by_routes_and_verify(service, issue_token):
    token = await issue_token()
    await service.app.ctx.tokens.revoke(prefix=token[:12])
    rejected = await service.request(
        "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "BINARY"}
    )
    assert rejected.status_code == 400 and rejected.json()["error"]["message"] == "NOT_VERIFIED"
    assert (await service.request("POST", VERIFY, token=token)).json()["data"]["status"] == "NOT_VERIFIED"


async def test_an_unreachable_token_store_answers_503_auth_unavailable(servers, redis_url):
    from app.runtime.processes import free_port
    from tests.conftest import make_settings, start_service, stop_service

    service = await start_service(make_settings(f"postgres://postgres:x@127.0.0.1:{free_port()}/gone", redis_url))
    try:
        response = await service.request(
            "GET", "/end_user/v1/configs/get-configs", token="adj_" + "C" * 43, params={"consumer": "BINARY"}
        )
        assert response.status_code == 503 and response.json()["error"]["message"] == "AUTH_UNAVAILABLE"
        verify = await service.request("POST", VERIFY, token="adj_" + "C" * 43)
        assert verify.status_code == 503, "an outage must never look like NOT_VERIFIED (it logs users out)"
        health = await service.request("GET", "/health", client_headers=False)
        assert health.status_code == 503 and health.json()["checks"]["database"]["ok"] is False
    finally:
        await stop_service(service)


async def test_browser_login_binds_a_fresh_token_to_the_polling_uuid(service, issue_token):
    admin_token = await issue_token(email="ada@example.com")
    session_uuid = str(uuid.uuid4())
    poll = {"X-Unique-Session-Id": session_uuid}
    pending = await service.request("GET", "/end_user/v1/auth/get-session", headers=poll)
    assert pending.status_code == 200 and pending.json()["data"]["status"] == "PENDING"

    page = await service.http.get(
        "/external-auth", params={"unique_session_id": session_uuid, "is_external_auth_request": "VSCODE_EXT"}
    )
    assert page.status_code == 200 and session_uuid in page.text
    wrong = await service.http.post("/external-auth", data={"unique_session_id": session_uuid, "token": "adj_nope"})
    assert wrong.status_code == 401
    assert (await service.request("GET", "/end_user/v1/auth/get-session", headers=poll)).json()["data"][
        "status"
    ] == "PENDING"

    signed_in = await service.http.post(
        "/external-auth", data={"unique_session_id": session_uuid, "token": admin_token}
    )
    assert signed_in.status_code == 200 and "ada@example.com" in signed_in.text
    data = (await service.request("GET", "/end_user/v1/auth/get-session", headers=poll)).json()["data"]
    assert data["status"] == "AUTHENTICATED" and data["user_email"] == "ada@example.com"
    extension_token = data["encrypted_session_data"]
    assert extension_token != admin_token and TOKEN_PATTERN.match(extension_token)
    assert (await service.request("POST", VERIFY, token=extension_token)).json()["data"]["status"] == "VERIFIED"
    # A repeat read shortly after returns the same token; the binding cannot be reused for another login.
    again = (await service.request("GET", "/end_user/v1/auth/get-session", headers=poll)).json()["data"]
    assert again["encrypted_session_data"] == extension_token
    reuse = await service.http.post("/external-auth", data={"unique_session_id": session_uuid, "token": admin_token})
    assert reuse.status_code == 409
    ttl = await service.app.ctx.redis.pttl(service.app.ctx.login_bindings.key(session_uuid))
    assert 0 < ttl <= 60_000, "after the first read the binding lives at most 60 s more"


async def test_a_login_binding_keeps_neither_the_token_nor_the_uuid_at_rest(service, issue_token, servers):
    admin_token = await issue_token(email="ada@example.com")
    session_uuid = str(uuid.uuid4())
    signed_in = await service.http.post(
        "/external-auth", data={"unique_session_id": session_uuid, "token": admin_token}
    )
    assert signed_in.status_code == 200
    redis = service.app.ctx.redis
    keys = [key async for key in redis.scan_iter(match="adj:login:*")]
    stored = [await redis.get(key) for key in keys]
    poll = {"X-Unique-Session-Id": session_uuid}
    token = (await service.request("GET", "/end_user/v1/auth/get-session", headers=poll)).json()["data"][
        "encrypted_session_data"
    ]
    assert TOKEN_PATTERN.match(token)
    assert (await service.request("POST", VERIFY, token=token)).json()["data"]["status"] == "VERIFIED"
    assert len(keys) == 1 and session_uuid.encode() not in keys[0]
    assert token.encode() not in stored[0] and session_uuid.encode() not in stored[0]
    # Redis's own files: the append-only file records every write ever made.
    aof = (servers.redis.root / "appendonly.aof").read_bytes()
    assert keys[0] in aof, "the binding itself was written there"
    assert token.encode() not in aof and session_uuid.encode() not in aof


async def test_login_page_escapes_what_it_echoes(service):
    page = await service.http.get("/external-auth", params={"unique_session_id": '"><script>alert(1)</script>'})
    assert page.status_code == 400 and "<script>alert(1)" not in page.text


async def test_unknown_or_malformed_polling_ids_stay_pending(service):
    for value in ("not-a-uuid", str(uuid.uuid4()), ""):
        response = await service.request("GET", "/end_user/v1/auth/get-session", headers={"X-Unique-Session-Id": value})
        assert response.status_code == 200 and response.json()["data"] == {"status": "PENDING"}
