"""docs/protocol.md §4.1: the extension's terminal settings (per user, strictly validated, full replace) and its
profile panel (every dynamic value HTML-escaped)."""

from __future__ import annotations

import base64
from datetime import UTC
from html.parser import HTMLParser

import pytest

from app.auth.tokens import hash_token
from app.db.models import ApiToken, UserExtensionSettings
from app.errors import ConfigError
from tests.conftest import make_settings, start_service, stop_service

GET = "/end_user/v1/extension_settings/get_extension_settings"
UPDATE = "/end_user/v1/extension_settings/update_extension_settings"
PROFILE = "/end_user/v1/ui_data/profile_ui"
DEFAULTS = {"terminal_settings": {"enable_yolo_mode": False, "command_deny_list": ["rm"]}}


def terminal(yolo, deny) -> dict:
    return {"terminal_settings": {"enable_yolo_mode": yolo, "command_deny_list": deny}}


async def test_settings_start_at_the_defaults_and_round_trip_per_user(service):
    ada = await service.issue_token("ada@example.com", "core")
    bob = await service.issue_token("bob@example.com", "core")
    first = await service.request("GET", GET, token=ada)
    assert first.status_code == 200 and first.json()["data"] == DEFAULTS
    assert first.json()["is_success"] is True and first.json()["status_code"] == 200

    wanted = terminal(True, ["rm", "git push --force", "kubectl delete"])
    # Unknown keys are ignored, at the top and inside terminal_settings.
    body = {**wanted, "theme": "dark"}
    body["terminal_settings"] = {**wanted["terminal_settings"], "future_flag": 1}
    stored = await service.request("POST", UPDATE, token=ada, json=body)
    assert stored.status_code == 200 and stored.json()["data"] == wanted
    assert (await service.request("GET", GET, token=ada)).json()["data"] == wanted
    # The trailing-slash spelling reaches the same route (docs/protocol.md §1.1).
    assert (await service.request("GET", GET + "/", token=ada)).json()["data"] == wanted
    # Another user is untouched.
    assert (await service.request("GET", GET, token=bob)).json()["data"] == DEFAULTS

    # A full replace: the second update wins entirely, an empty deny list is a legitimate choice.
    emptied = await service.request("POST", UPDATE, token=ada, json=terminal(False, []))
    assert emptied.json()["data"] == terminal(False, [])
    assert (await service.request("GET", GET, token=ada)).json()["data"] == terminal(False, [])
    assert await UserExtensionSettings.all().count() == 1


async def test_duplicate_denied_commands_are_kept_once_in_order(service):
    token = await service.issue_token()
    stored = await service.request("POST", UPDATE, token=token, json=terminal(False, ["rm", "dd", "rm", "dd", "mkfs"]))
    assert stored.json()["data"]["terminal_settings"]["command_deny_list"] == ["rm", "dd", "mkfs"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"terminal_settings": None},
        {"terminal_settings": {"enable_yolo_mode": True}},  # a full replace needs both keys
        {"terminal_settings": {"command_deny_list": ["rm"]}},
        terminal("true", ["rm"]),  # strict booleans: no strings
        terminal(1, ["rm"]),  # ... and no integers
        terminal(True, "rm"),
        terminal(True, None),
        terminal(True, [""]),
        terminal(True, ["   "]),
        terminal(True, ["rm", 5]),
        terminal(True, ["rm\nshutdown"]),
        terminal(True, ["x" * 257]),
        terminal(True, [f"cmd{i}" for i in range(201)]),
    ],
)
async def test_invalid_settings_are_refused_and_change_nothing(service, body):
    token = await service.issue_token()
    saved = terminal(True, ["rm", "sudo"])
    await service.request("POST", UPDATE, token=token, json=saved)
    refused = await service.request("POST", UPDATE, token=token, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["message"] == "INVALID_REQUEST" and refused.json()["status_code"] == 422
    assert (await service.request("GET", GET, token=token)).json()["data"] == saved


async def test_non_object_bodies_are_refused_and_the_bounds_are_inclusive(service):
    token = await service.issue_token()
    for raw in (b"not json", b"[1, 2]", b'"text"'):
        response = await service.request("POST", UPDATE, token=token, content=raw)
        assert response.status_code == 422, raw
    assert await UserExtensionSettings.all().count() == 0
    largest = terminal(True, ["x" * 256] + [f"cmd{i}" for i in range(199)])
    accepted = await service.request("POST", UPDATE, token=token, json=largest)
    assert accepted.status_code == 200 and accepted.json()["data"] == largest


async def test_settings_need_a_token_and_client_headers(service):
    token = await service.issue_token()
    anonymous = await service.request("GET", GET)
    assert anonymous.status_code == 400 and anonymous.json()["error"]["message"] == "NOT_VERIFIED"
    headerless = await service.request("POST", UPDATE, token=token, client_headers=False, json=terminal(True, []))
    assert headerless.status_code == 400 and headerless.json()["error_code"] == 102
    assert await UserExtensionSettings.all().count() == 0


# --- profile panel ------------------------------------------------------------------------------------------


class Markup(HTMLParser):
    """The tags and the text of an HTML fragment, as a browser would parse it."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


async def test_the_profile_panel_escapes_every_dynamic_value(service):
    email = "<script>alert(1)</script>@evil.example"
    team = '<img src=x onerror="alert(2)">&amp;'
    token = await service.issue_token(email, team)
    response = await service.request("GET", PROFILE, token=token, params={"session_type": "VSCODE_EXT_SESSION"})
    assert response.status_code == 200, response.text
    items = response.json()["data"]["ui_profile_data"]
    assert [(i["label"], i["type"]) for i in items] == [("Account and server", "Expand")]  # no docs_url configured
    html = items[0]["data"]
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&amp;amp;" in html
    parsed = Markup(html)
    assert set(parsed.tags) <= {"p", "strong"}  # only our own markup survives as tags
    text = "".join(parsed.text)
    # What the user reads is exactly the stored values, neither lost nor double-decoded.
    assert email in text and team in text
    row = await ApiToken.get(token_hash=hash_token(token))
    assert row.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") in text and "(in 29 days)" in text
    public_url = service.app.ctx.settings.server.base_url()
    assert f"Adjutant {service.app.ctx.version} at {public_url}" in text
    assert "Default model:" in text
    icon = items[0]["icon"]
    assert icon.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(icon.split(",", 1)[1]).startswith(b"<svg")


async def test_the_profile_panel_links_the_configured_docs(database_url, redis_url):
    running = await start_service(
        make_settings(database_url, redis_url, **{"extension.docs_url": "https://docs.example.com/adjutant"})
    )
    try:
        token = await running.issue_token()
        items = (await running.request("GET", PROFILE, token=token)).json()["data"]["ui_profile_data"]
        link = items[-1]
        assert link["type"] == "Hyperlink" and link["label"] == "Documentation"
        assert link["url"] == "https://docs.example.com/adjutant" and "data" not in link
        assert link["icon"].startswith("data:image/svg+xml;base64,")
        assert all("url" not in item for item in items[:-1])
        too_long = await running.request("GET", PROFILE, token=token, params={"session_type": "x" * 65})
        assert too_long.status_code == 422
    finally:
        await stop_service(running)


def test_a_docs_url_must_be_http():
    with pytest.raises(ConfigError, match="docs_url"):
        make_settings("postgres://x/y", "redis://x", **{"extension.docs_url": "javascript:alert(1)"})
