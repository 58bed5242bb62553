"""docs/protocol.md §1.3 client validation: X-Client and X-Client-Version."""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.errors import ClientHeaderMissing, ClientVersionMissing, ClientVersionTooOld, UnknownClient
from app.runtime.settings import ClientSettings

VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$")


def parse_version(raw: str) -> tuple[int, int, int] | None:
    match = VERSION.match(raw.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_client(headers: Mapping[str, str], settings: ClientSettings, *, check_version: bool) -> str:
    """Validate the client headers; return the client kind. Raises the §1.3 typed errors."""
    client = (headers.get("x-client") or "").strip()
    if not client:
        raise ClientHeaderMissing("X-Client header is required")
    if client not in settings.accepted:
        raise UnknownClient(f"X-Client must be one of {', '.join(settings.accepted)}")
    if not check_version:
        return client
    raw_version = (headers.get("x-client-version") or "").strip()
    if not raw_version:
        raise ClientVersionMissing("X-Client-Version header is required")
    version = parse_version(raw_version)
    if version is None:
        raise ClientVersionMissing("X-Client-Version must be a semantic version such as 16.1.0")
    minimum = parse_version(settings.min_version)
    assert minimum is not None  # validated with the settings
    if version < minimum:
        raise ClientVersionTooOld(
            f"client version {raw_version} is below the minimum {settings.min_version}",
            meta={"upgrade_version": settings.min_version, "client_download_link": settings.download_link},
        )
    return client
