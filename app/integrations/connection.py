"""What a client is given to talk to one service for one team: the connection, its credentials opened.

Plain data, built by `app.integrations.connections` from the stored row; the credentials exist in clear only
in memory, for the call, and `repr` never shows them (a traceback or a debug log of a client stays clean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["github", "gitlab", "bitbucket", "jira", "confluence", "linear", "slack", "discord"]
KINDS: tuple[Kind, ...] = ("github", "gitlab", "bitbucket", "jira", "confluence", "linear", "slack", "discord")
SCM_KINDS: tuple[Kind, ...] = ("github", "gitlab", "bitbucket")

# Where each service lives when the connection names no base URL (the cloud edition).
CLOUD_URLS: dict[str, str] = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org",
    "linear": "https://api.linear.app",
    "slack": "https://slack.com/api",
    "discord": "https://discord.com/api",
}


@dataclass(frozen=True)
class ConnectionInfo:
    id: int
    team_id: int
    kind: Kind
    name: str
    base_url: str  # no trailing slash
    credentials: dict[str, str] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def limiter_key(self) -> str:
        return f"integration:{self.id}"

    def credential(self, name: str) -> str:
        return self.credentials.get(name, "")
