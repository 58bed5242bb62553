"""The extension's profile panel (docs/protocol.md §4.1 `profile_ui`): what the server knows about the caller.

The webview injects each item's `data` as HTML, so every dynamic value (names, emails, team names, model
names, dates) goes through `html.escape` here; only the fixed markup around them is trusted.

There is one "Expand" item: the reference client opens and closes every Expand item with one shared toggle,
so two of them would always unfold together.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from app.auth.principal import Principal
from app.db.repositories import identity
from app.extension import icons
from app.llm.errors import LLMError
from app.llm.registry import ModelRegistry


class ProfileItem(BaseModel):
    label: str
    type: Literal["Expand", "Hyperlink"]
    icon: str  # an image URL (here always a data: URI)
    data: str | None = None  # HTML, Expand only
    url: str | None = None  # Hyperlink only


class ProfileUi(BaseModel):
    ui_profile_data: list[ProfileItem]


def _row(label: str, value: str) -> str:
    return f"<p><strong>{html.escape(label)}:</strong> {html.escape(value)}</p>"


def _expiry(expires_at: datetime | None, now: datetime) -> str:
    if expires_at is None:
        return "unknown"
    days = (expires_at - now).days
    if expires_at <= now:
        left = "expired; renewed on next use while still refreshable"
    elif days == 0:
        left = "in less than a day"
    else:
        left = f"in {days} day{'s' if days > 1 else ''}"
    return f"{expires_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} ({left})"


def _default_model(models: ModelRegistry) -> str:
    try:
        model = models.default()
    except LLMError:
        return "none usable (configure a provider)"
    return f"{model.spec.display_name} ({model.name})"


async def panel(
    principal: Principal, *, models: ModelRegistry, version: str, server_url: str, docs_url: str
) -> ProfileUi:
    """The caller's panel: one Expand item of account and server facts, and a docs link when configured."""
    now = datetime.now(UTC)
    expires_at = await identity.current_expiry(principal.token_id)
    details = "".join(
        (
            _row("Name", principal.name),
            _row("Email", principal.email),
            _row("Team", principal.team_name),
            _row("Sign-in expires", _expiry(expires_at, now)),
            _row("Server", f"Adjutant {version} at {server_url}"),
            _row("Default model", _default_model(models)),
        )
    )
    items = [ProfileItem(label="Account and server", type="Expand", icon=icons.ACCOUNT, data=details)]
    if docs_url:
        items.append(ProfileItem(label="Documentation", type="Hyperlink", icon=icons.DOCS, url=docs_url))
    return ProfileUi(ui_profile_data=items)
