"""docs/protocol.md §3: every key the reference client and local binary read, from settings, with no secrets."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings, start_service, stop_service

ESSENTIAL_KEYS = {
    "HOST_AND_TIMEOUT",
    "DD_HOST_WS",
    "DD_HOST_WS_NON_GATEWAY",
    "QUERY_SOLVER_ENDPOINT_NON_GATEWAY",
    "QUERY_SOLVER_ENDPOINT",
    "REVIEW_SOLVER_ENDPOINT",
    "REVIEW_POST_PROCESS_SOLVER_ENDPOINT",
    "BROWSER_HOST",
    "POLLING_MAX_ATTEMPTS",
    "ENABLE_EXTENSION_EMBEDDINGS",
    "LLM_MODELS",
    "BINARY",
    "NUMBER_OF_WORKERS",
}
BINARY_KEYS = {
    "directory",
    "file_path",
    "service_path",
    "file_checksum",
    "use_python_module",
    "download_link",
    "port_range",
    "max_init_retry",
    "max_alive_retry",
}
VSCODE_KEYS = {
    "CHAT_PAYLOAD_MAX_SIZE",
    "CHAT_IMAGE_UPLOAD",
    "CHAT_FILE_UPLOAD",
    "RUDDER",
    "VSCODE_IGNORE_FILES",
    "VSCODE_LOGS_RETENTION_DAYS",
}
LOCAL_BINARY_KEYS = {
    "DEPUTY_DEV",
    "CHUNKING",
    "EMBEDDING",
    "RELEVANT_CHUNKS",
    "MCP",
    "URL_CONTENT_READER",
    "AUTOCOMPLETE_SEARCH",
    "CODE_REVIEW",
    "WEAVIATE_HOST",
    "WEAVIATE_HTTP_PORT",
    "WEAVIATE_GRPC_PORT",
    "WEAVIATE_VERSION",
    "WEAVIATE_STARTUP_TIMEOUT",
    "WEAVIATE_STARTUP_HEALTHCHECK_INTERVAL",
    "WEAVIATE_CLIENT_TIMEOUTS",
    "WEAVIATE_ENV_VARIABLES",
    "WEAVIATE_BASE_DIR",
    "WEAVIATE_EMBEDDED_DB_PATH",
    "WEAVIATE_EMBEDDED_DB_BINARY_PATH",
    "NUMBER_OF_WORKERS",
    "USE_GRACE_PERIOD_FOR_EMBEDDING",
}


async def get_essential(service, os_name="linux", arch="x64"):
    return await service.request(
        "GET",
        "/end_user/v1/configs/get-essential-configs",
        params={"consumer": "VSCODE_EXT", "os": os_name, "arch": arch},
    )


async def test_essential_configs_carry_every_key_the_extension_reads(service):
    response = await get_essential(service, "darwin", "arm64")
    body = response.json()
    assert response.status_code == 200 and body["is_success"] is True and body["status_code"] == 200
    data = body["data"]
    assert ESSENTIAL_KEYS <= set(data)
    host = data["HOST_AND_TIMEOUT"]["HOST"]
    assert host == service.app.ctx.settings.server.base_url() and isinstance(data["HOST_AND_TIMEOUT"]["TIMEOUT"], int)
    assert data["DD_HOST_WS"] == data["DD_HOST_WS_NON_GATEWAY"] == "ws://" + host.removeprefix("http://")
    assert (
        data["QUERY_SOLVER_ENDPOINT"]
        == data["QUERY_SOLVER_ENDPOINT_NON_GATEWAY"]
        == "/end_user/v2/code-gen/generate-code-ws"
    )
    assert data["REVIEW_SOLVER_ENDPOINT"] and data["REVIEW_POST_PROCESS_SOLVER_ENDPOINT"]
    assert data["POLLING_MAX_ATTEMPTS"] > 0
    assert BINARY_KEYS <= set(data["BINARY"]) and "darwin-arm64" in data["BINARY"]["directory"]
    assert len(data["BINARY"]["port_range"]) == 2
    for model in data["LLM_MODELS"]:
        assert {"id", "display_name", "name", "provider", "multimodal"} <= set(model)


async def test_each_os_and_arch_gets_its_own_binary(service):
    linux = (await get_essential(service, "linux", "x64")).json()["data"]["BINARY"]
    windows = (await get_essential(service, "win32", "x64")).json()["data"]["BINARY"]
    assert linux["directory"] != windows["directory"]


@pytest.mark.parametrize(
    "params",
    [
        {"consumer": "VSCODE_EXT", "os": "plan9", "arch": "x64"},
        {"consumer": "VSCODE_EXT", "os": "linux"},
        {"consumer": "OTHER", "os": "linux", "arch": "x64"},
    ],
)
async def test_unknown_os_arch_or_consumer_is_422(service, params):
    response = await service.request("GET", "/end_user/v1/configs/get-essential-configs", params=params)
    assert response.status_code == 422 and response.json()["error"]["message"] == "INVALID_REQUEST"


async def test_vscode_configs_need_a_token_and_carry_every_key(service, issue_token):
    unauthenticated = await service.request(
        "GET", "/end_user/v1/configs/get-configs", params={"consumer": "VSCODE_EXT"}
    )
    assert unauthenticated.status_code == 400
    token = await issue_token()
    data = (
        await service.request(
            "GET",
            "/end_user/v1/configs/get-configs",
            token=token,
            params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
        )
    ).json()["data"]
    assert VSCODE_KEYS <= set(data)
    assert data["CHAT_PAYLOAD_MAX_SIZE"] == 100
    assert "application/json" in data["CHAT_IMAGE_UPLOAD"]["SUPPORTED_MIMETYPES"]
    assert data["RUDDER"]["DATA_PLANE_URL"].startswith(service.app.ctx.settings.server.base_url())
    assert {"EXCLUDE_DIRS", "EXCLUDE_EXTS", "EXLUDE_PATTERN"} <= set(data["VSCODE_IGNORE_FILES"])


async def test_binary_configs_carry_every_key_the_local_binary_replaces(service, issue_token):
    token = await issue_token()
    data = (
        await service.request("GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "BINARY"})
    ).json()["data"]
    assert LOCAL_BINARY_KEYS <= set(data)
    assert data["DEPUTY_DEV"]["HOST"] == service.app.ctx.settings.server.base_url()
    assert {"TIMEOUT", "LIMIT", "LIMIT_PER_HOST", "TTL_DNS_CACHE"} <= set(data["DEPUTY_DEV"])
    assert data["EMBEDDING"]["TOKEN_LIMIT"] == 8192


async def test_the_telemetry_sink_the_config_advertises_is_live(service, issue_token):
    token = await issue_token()
    configs = await service.request(
        "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": "VSCODE_EXT"}
    )
    advertised = configs.json()["data"]["RUDDER"]["DATA_PLANE_URL"]
    path = advertised.removeprefix(service.app.ctx.settings.server.base_url())
    # The exact advertised URL and any path the telemetry SDK appends to it.
    for suffix in ("", "/v1/batch", "/v1/track"):
        response = await service.request("POST", path + suffix, client_headers=False, json={"batch": []})
        assert response.status_code == 200, suffix


async def test_configs_contain_no_secrets(servers, database_url, redis_url):
    secrets = {
        "OPENAI_API_KEY": "sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
        "ANTHROPIC_API_KEY": "sk-ant-ZYXWVUTSRQPONMLKJIHG",
        "GEMINI_API_KEY": "AIzaSyA-secret-gemini-key-0123456789",
    }
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "providers.openai_api_key": secrets["OPENAI_API_KEY"],
            "providers.anthropic_api_key": secrets["ANTHROPIC_API_KEY"],
            "providers.gemini_api_key": secrets["GEMINI_API_KEY"],
            "sentry.dsn": "http://sentrykey123@127.0.0.1:9/1",
        },
    )
    service = await start_service(settings)
    try:
        token = await service.issue_token()
        bodies = [(await get_essential(service)).text]
        for consumer in ("VSCODE_EXT", "BINARY"):
            bodies.append(
                (
                    await service.request(
                        "GET", "/end_user/v1/configs/get-configs", token=token, params={"consumer": consumer}
                    )
                ).text
            )
        leaked = [
            value
            for value in [*secrets.values(), "sentrykey123", database_url.split("@")[0]]
            for body in bodies
            if value in body
        ]
        assert not leaked
    finally:
        await stop_service(service)


async def test_config_responses_are_immutable_snapshots(service, issue_token):
    first = (await get_essential(service)).json()
    first["data"]["LLM_MODELS"].clear()  # a caller mutating what it got changes nothing server-side
    assert (await get_essential(service)).json()["data"]["LLM_MODELS"]


async def test_public_url_drives_every_advertised_address(servers, database_url, redis_url):
    settings = make_settings(database_url, redis_url, **{"server.public_url": "https://adjutant.example.com/"})
    service = await start_service(settings)
    try:
        data = (await get_essential(service)).json()["data"]
        assert data["HOST_AND_TIMEOUT"]["HOST"] == "https://adjutant.example.com"
        assert data["DD_HOST_WS_NON_GATEWAY"] == "wss://adjutant.example.com"
        assert data["BROWSER_HOST"] == "https://adjutant.example.com"
    finally:
        await stop_service(service)
