"""Sealing credentials for the database: rotation by kid, purpose binding, tampering, and where keys come from."""

from __future__ import annotations

import base64
import secrets
import stat

import pytest

from app.errors import ConfigError, SecretUnreadable
from app.runtime.secret_box import SecretBox, load_secret_box
from tests.conftest import make_settings


def key() -> bytes:
    return secrets.token_bytes(32)


def keys_setting(**keys: bytes) -> str:
    return ",".join(f"{kid}:{base64.b64encode(value).decode()}" for kid, value in keys.items())


def test_a_sealed_value_opens_for_its_purpose_and_hides_the_plaintext():
    box = SecretBox({"k1": key()}, "k1")
    sealed = box.seal("ghp_token123", "repository-source:1/shop")
    assert sealed.startswith("v1:k1:") and "ghp_token123" not in sealed
    assert box.open(sealed, "repository-source:1/shop") == "ghp_token123"
    assert box.seal("ghp_token123", "repository-source:1/shop") != sealed  # a fresh nonce every time


def test_values_sealed_with_an_old_key_still_open_after_a_new_one_becomes_active():
    old, new = key(), key()
    sealed_before = SecretBox({"old": old}, "old").seal("secret-a", "p")
    rotated = SecretBox({"old": old, "new": new}, "new")
    assert rotated.open(sealed_before, "p") == "secret-a"
    sealed_after = rotated.seal("secret-b", "p")
    assert sealed_after.startswith("v1:new:")
    with pytest.raises(SecretUnreadable, match="no longer holds"):
        SecretBox({"old": old}, "old").open(sealed_after, "p")


def test_tampered_values_and_other_purposes_do_not_open():
    box = SecretBox({"k1": key()}, "k1")
    sealed = box.seal("secret", "repository-source:1/shop")
    with pytest.raises(SecretUnreadable):
        box.open(sealed, "repository-source:2/shop")  # copied to another team's row
    raw = bytearray(base64.b64decode(sealed.split(":", 2)[2]))
    raw[-1] ^= 1
    with pytest.raises(SecretUnreadable):
        box.open("v1:k1:" + base64.b64encode(bytes(raw)).decode(), "repository-source:1/shop")
    for malformed in ("", "secret", "v2:k1:AAAA", "v1:k1:not base64!", "v1:k1:AAAA"):
        with pytest.raises(SecretUnreadable):
            box.open(malformed, "repository-source:1/shop")
    with pytest.raises(SecretUnreadable):  # same key under another kid: the kid is not what opens it
        SecretBox({"k2": key()}, "k2").open(sealed, "repository-source:1/shop")


def test_configured_keys_are_used_and_checked_without_echoing_them(database_url, redis_url):
    a, b = key(), key()
    settings = make_settings(
        database_url, redis_url, **{"secrets.keys": keys_setting(a=a, b=b), "secrets.active_key_id": "b"}
    )
    box = load_secret_box(settings)
    assert box is not None and box.active_kid == "b"
    assert box.open(SecretBox({"a": a}, "a").seal("x", "p"), "p") == "x"
    short = base64.b64encode(b"too short").decode()
    for bad in ({"secrets.keys": f"a:{short}"}, {"secrets.keys": keys_setting(a=a, b=b)}):
        with pytest.raises(ConfigError) as caught:
            make_settings(database_url, redis_url, **bad)
        assert short not in str(caught.value) and base64.b64encode(a).decode() not in str(caught.value)
    with pytest.raises(ConfigError, match="active_key_id"):
        make_settings(database_url, redis_url, **{"secrets.keys": keys_setting(a=a), "secrets.active_key_id": "z"})


def test_without_keys_an_external_database_has_no_box(database_url, redis_url):
    assert load_secret_box(make_settings(database_url, redis_url)) is None


def test_the_embedded_stack_generates_one_private_key_and_keeps_it(database_url, redis_url, tmp_path):
    settings = make_settings(database_url, redis_url, **{"database.url": "", "server.data_dir": str(tmp_path / "data")})
    first = load_secret_box(settings)
    assert first is not None
    path = tmp_path / "data" / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal("token", "p")
    second = load_secret_box(settings)
    assert second is not None and second.open(sealed, "p") == "token"
    path.write_text("garbage\n")
    with pytest.raises(ConfigError, match="secret-key"):
        load_secret_box(settings)
