"""Health, metrics, structured logs with request ids, and credentials kept out of logs and Sentry."""

from __future__ import annotations

import io
import json
import logging

from app.runtime.logging import Redactor, StructuredFormatter, configure_logging
from app.runtime.settings import LoggingSettings, secret_values
from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.sentry import FakeSentry

PROVIDER_KEY = "sk-proj-Q9w8E7r6T5y4U3i2O1p0AbCd"


class Exploding:
    """Stands in for the config snapshots so the next request fails with credentials in the message."""

    def __init__(self, token: str) -> None:
        self.token = token

    @property
    def local_binary(self) -> bytes:
        raise RuntimeError(f"upstream refused Authorization: Bearer {self.token} with key {PROVIDER_KEY}")


async def test_health_reports_each_dependency(service):
    response = await service.request("GET", "/health", client_headers=False)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "migrations", "jobs"}
    assert body["checks"]["jobs"]["backend"] == "redis"
    assert body["checks"]["migrations"]["pending"] == [] and body["checks"]["migrations"]["applied"] >= 1
    assert all(check["ok"] for check in body["checks"].values())


async def test_health_fails_when_redis_is_gone(service):
    await service.app.ctx.redis.aclose()
    service.app.ctx.redis = type(service.app.ctx.redis).from_url("redis://127.0.0.1:1/0")
    response = await service.request("GET", "/health", client_headers=False)
    assert response.status_code == 503 and response.json()["checks"]["redis"]["ok"] is False


async def test_health_fails_when_the_schema_is_behind(service):
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_query("DELETE FROM schema_migrations")
    body = (await service.request("GET", "/health", client_headers=False)).json()
    assert body["status"] == "unavailable" and body["checks"]["migrations"]["ok"] is False


async def test_metrics_count_requests_by_route_template(service):
    for _ in range(3):
        await service.request("GET", "/ping", client_headers=False)
    await service.request("GET", "/end_user/v1/configs/get-configs", params={"consumer": "BINARY"})
    text = (await service.request("GET", "/metrics", client_headers=False)).text
    assert 'adjutant_http_requests_total{method="GET",route="ping",status="200"}' in text
    assert 'route="end_user/v1/configs/get-configs",status="400"' in text
    assert "adjutant_http_request_duration_seconds_bucket" in text
    assert 'adjutant_auth_failures_total{reason="missing or malformed token"}' in text


async def test_openapi_document_is_served(servers, database_url, redis_url):
    service = await start_service(make_settings(database_url, redis_url), openapi=True)
    try:
        spec = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
        assert "/ping" in spec["paths"] and "/end_user/v1/configs/get-essential-configs" in spec["paths"]
    finally:
        await stop_service(service)


def test_redactor_removes_known_and_recognisable_credentials():
    redact = Redactor(["my-configured-secret-value"])
    text = redact(
        "Bearer adj_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG key=sk-ant-api03-abcdefghijklmnopqrstu "
        "AIzaSyD-abcdefghijklmnopqrstuvwxyz012345 postgres://postgres:pw123@127.0.0.1:5/x "
        "password=hunter2 my-configured-secret-value"
    )
    for secret in ("adj_abcdefghij", "sk-ant-api03", "AIzaSyD-abc", "pw123", "hunter2", "my-configured-secret-value"):
        assert secret not in text


async def test_logs_are_json_with_request_ids_and_never_contain_credentials(service, issue_token):
    settings = service.app.ctx.settings
    buffer = io.StringIO()
    configure_logging(
        LoggingSettings(level="INFO", format="json"), [*secret_values(settings), PROVIDER_KEY], stream=buffer
    )
    token = await issue_token()
    service.app.ctx.client_config = Exploding(token)
    response = await service.request(
        "GET",
        "/end_user/v1/configs/get-configs",
        token=token,
        params={"consumer": "BINARY"},
        headers={"X-Request-ID": "req-42"},
    )
    assert response.status_code == 500
    logging.getLogger("adjutant.test").info("connecting to %s", settings.database.url)
    output = buffer.getvalue()
    records = [json.loads(line) for line in output.splitlines()]
    error = next(r for r in records if r["level"] == "ERROR")
    assert error["request_id"] == "req-42" and "RuntimeError" in error["exc"]
    access = next(r for r in records if r["logger"] == "adjutant.access" and r["status"] == 500)
    assert access["request_id"] == "req-42" and access["route"] == "end_user/v1/configs/get-configs"
    for secret in (token, PROVIDER_KEY, settings.database.url, settings.redis.url):
        assert secret not in output


async def test_sentry_receives_errors_scrubbed_of_credentials(servers, database_url, redis_url):
    with FakeSentry() as sentry:
        settings = make_settings(database_url, redis_url, **{"sentry.dsn": sentry.dsn})
        service = await start_service(settings)
        try:
            token = await service.issue_token()
            service.app.ctx.client_config = Exploding(token)
            response = await service.request(
                "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "BINARY"}
            )
            assert response.status_code == 500
        finally:
            await stop_service(service)  # flushes the Sentry transport
        assert sentry.events, "the unexpected error must reach Sentry"
        event = sentry.events[0]
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        raw = b"".join(sentry.raw_bodies).decode(errors="replace")
        assert token not in raw and PROVIDER_KEY not in raw


def test_text_format_is_key_value_on_one_line():
    formatter = StructuredFormatter(Redactor(), as_json=False)
    record = logging.makeLogRecord({"name": "adjutant", "levelname": "INFO", "msg": "hello", "route": "ping"})
    line = formatter.format(record)
    assert "INFO" in line and "adjutant: hello" in line and "route=ping" in line and "\n" not in line
