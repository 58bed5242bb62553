"""What a digest or report job opens from its payload: the team's SCM connection (ownership-checked), its
client, and the repository's `[review.notify]` rules from its default branch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.errors import AdjutantError, IntegrationNotFound, JobFailedPermanently, ReviewRulesInvalid
from app.integrations.clients import client_for
from app.integrations.connection import SCM_KINDS, ConnectionInfo
from app.integrations.connections import Connections
from app.review.notify.rules import NotifyRules
from app.review.pr.platforms import RULES_FILE, RULES_MAX_BYTES, read_text
from app.review.rules import load_rules


@dataclass
class Repository:
    connection: ConnectionInfo
    client: Any
    name: str
    rules: NotifyRules


async def scm_connection(connections: Connections, team_id: int, reference: str) -> ConnectionInfo:
    """The team's GitHub, GitLab or Bitbucket connection by name or id; another team's is unknown here."""
    try:
        connection = await connections.connection(team_id, reference)
    except AdjutantError as exc:
        raise JobFailedPermanently(f"connection {reference!r}: {exc.detail}") from None
    if connection.kind not in SCM_KINDS:
        raise JobFailedPermanently(f"connection {reference!r} is {connection.kind}, not GitHub, GitLab or Bitbucket")
    return connection


async def read_notify_rules(client: Any, repo: str, ref: str | None) -> NotifyRules:
    """The `[review.notify]` rules at `ref` (None: the default branch); invalid rules fail for good."""
    try:
        text = await read_text(client, repo, RULES_FILE, ref, RULES_MAX_BYTES)  # type: ignore[arg-type]
        return load_rules(text).notify
    except ReviewRulesInvalid as exc:
        raise JobFailedPermanently(f"the {RULES_FILE} of {repo} is invalid: {exc.detail}") from None
    except IntegrationNotFound:
        raise JobFailedPermanently(f"{repo} is not a repository this connection can read") from None


@asynccontextmanager
async def open_repository(
    connections: Connections, team_id: int, reference: str, repo: str
) -> AsyncIterator[Repository]:
    connection = await scm_connection(connections, team_id, reference)
    await connections.check_address(connection.base_url)
    client = client_for(connection, connections.runtime)
    try:
        yield Repository(connection, client, repo, await read_notify_rules(client, repo, None))
    finally:
        await client.aclose()
