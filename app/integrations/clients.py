"""The client for a connection, by its kind. Modules are imported on first use: a deployment that connects only
GitHub never loads the Jira or Slack libraries (and a CLI command stays quick to start)."""

from __future__ import annotations

import importlib
from typing import Any

from app.integrations.connection import ConnectionInfo
from app.integrations.runtime import IntegrationRuntime

CLIENT_CLASSES: dict[str, tuple[str, str]] = {
    "github": ("app.integrations.github", "GitHubClient"),
    "gitlab": ("app.integrations.gitlab", "GitLabClient"),
    "bitbucket": ("app.integrations.bitbucket", "BitbucketClient"),
    "jira": ("app.integrations.jira", "JiraClient"),
    "confluence": ("app.integrations.confluence", "ConfluenceClient"),
    "linear": ("app.integrations.linear", "LinearClient"),
    "slack": ("app.integrations.slack", "SlackClient"),
    "discord": ("app.integrations.discord", "DiscordClient"),
}


def client_for(connection: ConnectionInfo, runtime: IntegrationRuntime) -> Any:
    """A new client for `connection`; close it with `aclose()` when done."""
    module, name = CLIENT_CLASSES[connection.kind]
    return getattr(importlib.import_module(module), name)(connection, runtime)
