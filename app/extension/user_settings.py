"""The extension's terminal settings (docs/protocol.md §4.1), kept per user.

An update is a full replace: the body must carry the whole `terminal_settings` object (the extension always
sends it whole), so a client can never leave half of an old setting behind by omitting a key. Unknown keys are
ignored, as everywhere on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictStr

from app.db.ownership import Owner
from app.db.repositories import extension as repo

MAX_DENIED_COMMANDS = 200
MAX_COMMAND_CHARS = 256
DEFAULT_DENY_LIST = ("rm",)


def _denied_command(value: str) -> str:
    if not value.strip():
        raise ValueError("a denied command must not be empty or blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("a denied command must not contain control characters (newlines, tabs, ...)")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # the first occurrence keeps its place


DeniedCommand = Annotated[StrictStr, Field(max_length=MAX_COMMAND_CHARS), AfterValidator(_denied_command)]


class TerminalSettings(BaseModel):
    enable_yolo_mode: StrictBool
    command_deny_list: Annotated[list[DeniedCommand], Field(max_length=MAX_DENIED_COMMANDS), AfterValidator(_unique)]


class ExtensionSettings(BaseModel):
    """Request body of update_extension_settings and `data` of both settings routes."""

    terminal_settings: TerminalSettings


def _settings(enable_yolo_mode: bool, command_deny_list: Iterable[str]) -> ExtensionSettings:
    return ExtensionSettings(
        terminal_settings=TerminalSettings(enable_yolo_mode=enable_yolo_mode, command_deny_list=list(command_deny_list))
    )


def defaults() -> ExtensionSettings:
    return _settings(False, DEFAULT_DENY_LIST)


async def current(owner: Owner) -> ExtensionSettings:
    """The stored settings, or the defaults for a user who never saved any."""
    row = await repo.get_settings(owner)
    return defaults() if row is None else _settings(row.enable_yolo_mode, row.command_deny_list)


async def replace(owner: Owner, settings: ExtensionSettings) -> ExtensionSettings:
    """Store `settings` whole and return them as stored."""
    terminal = settings.terminal_settings
    return _settings(
        *await repo.put_settings(
            owner, enable_yolo_mode=terminal.enable_yolo_mode, command_deny_list=terminal.command_deny_list
        )
    )
