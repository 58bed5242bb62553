"""A repository's `.adjutant.toml`: one file, one table per workflow (`[review]`, `[release_notes]`).

Each workflow validates its own table; reading the file, bounding it and picking the table is the same for all.
"""

from __future__ import annotations

import tomllib
from typing import Any

MAX_CONFIG_CHARS = 200_000


def config_table(text: str | None, name: str, invalid: type[Exception]) -> dict[str, Any] | None:
    """The `[name]` table of an `.adjutant.toml`, or None when there is no file or no table; `invalid` (with a
    readable message) when the file is too large, not TOML, or `name` is not a table."""
    if not text or not text.strip():
        return None
    if len(text) > MAX_CONFIG_CHARS:
        raise invalid(f".adjutant.toml is larger than {MAX_CONFIG_CHARS} characters")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise invalid(f".adjutant.toml is not valid TOML: {exc}") from None
    table: Any = document.get(name)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise invalid(f".adjutant.toml: {name} must be a table ([{name}])")
    return table
