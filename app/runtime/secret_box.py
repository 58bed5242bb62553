"""Credentials the service must keep (a git URL's token, to fetch again) sealed with AES-256-GCM before they
reach the database.

A sealed value reads `v1:<kid>:<base64(nonce | ciphertext+tag)>`: the kid names the key that sealed it, so
keys can rotate (new values use the active key, old ones open with theirs for as long as it stays
configured). The purpose (e.g. "repository-source:<team>/<name>") is authenticated with it, so a value
copied to another row, or tampered with, does not open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.errors import ConfigError, SecretUnreadable
from app.runtime.settings import Settings

VERSION = "v1"
NONCE_BYTES = 12
KEY_FILE = "secret-key"
GENERATED_KID = "local"  # the kid of the key generated into <data_dir>/secret-key


class SecretBox:
    def __init__(self, keys: dict[str, bytes], active_kid: str) -> None:
        if active_kid not in keys:
            raise ConfigError("secrets.active_key_id must name a kid in secrets.keys")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_kid = active_kid

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.active_kid].encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{VERSION}:{self.active_kid}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, value: str, purpose: str) -> str:
        """The plaintext; SecretUnreadable when the value is malformed, its key is not configured, it was
        altered, or it was sealed for another purpose."""
        version, _, rest = value.partition(":")
        kid, _, encoded = rest.partition(":")
        if version != VERSION or not kid:
            raise SecretUnreadable("not a sealed value")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretUnreadable(f"sealed with key {kid}, which secrets.keys no longer holds")
        try:
            raw = base64.b64decode(encoded, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretUnreadable("the sealed value was altered or belongs to another purpose") from None


def embedded_database(settings: Settings) -> bool:
    return not settings.database.url and settings.embedded.enabled


def load_secret_box(settings: Settings) -> SecretBox | None:
    """The configured keys; with none configured and the embedded stack in use, the key kept in
    `<data_dir>/secret-key` (made on first use). None when there is no key: credentials cannot be kept."""
    keys = settings.secrets.parsed_keys()
    if keys:
        return SecretBox(keys, settings.secrets.active_kid() or "")
    if not embedded_database(settings):
        return None
    return SecretBox({GENERATED_KID: _generated_key(settings.server.resolved_data_dir())}, GENERATED_KID)


def _generated_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # Written aside, then linked into place: of two workers starting at once one key wins, and neither
        # ever reads a half-written file.
        draft = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another worker's key won
                os.link(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        # A half-written file from a crash is not replaced: values sealed with the old key would be lost.
        raise ConfigError(f"{path} does not hold a base64 32-byte key; restore it from a backup")
    return key
