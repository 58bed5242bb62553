"""A team's connections: validated on the way in, credentials sealed before they reach the database, opened
only in memory for a call, never returned, never logged.

A connection is reached by its public id (or its name, for the CLI) within the caller's team; another team's
connection answers exactly like one that does not exist.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from app.db.models import Integration
from app.db.repositories import integrations as store
from app.errors import ConnectionNotFound, IntegrationError, InvalidRequest, SecretUnreadable
from app.integrations.addresses import AddressRefused, AllowList, Resolver, resolve_allowed, system_resolver
from app.integrations.connection import CLOUD_URLS, KINDS, ConnectionInfo, Kind
from app.integrations.runtime import IntegrationRuntime
from app.integrations.types import Identity
from app.runtime.secret_box import SecretBox, load_secret_box

log = logging.getLogger("adjutant.integrations")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SECRET_MAX = 16_000  # a PEM private key is ~1.7 KB; anything far larger is not a credential
NEEDS_BASE_URL: frozenset[str] = frozenset({"jira", "confluence"})

# The credential forms each service accepts (docs/integrations.md): auth type -> required fields.
AUTH_FORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "github": {"token": ("token",), "app": ("app_id", "private_key")},
    "gitlab": {"token": ("token",)},
    "bitbucket": {"token": ("token",), "basic": ("username", "password")},
    "jira": {"basic": ("email", "api_token"), "token": ("token",)},
    "confluence": {"basic": ("email", "api_token"), "token": ("token",)},
    "linear": {"token": ("token",)},
    "slack": {"token": ("token",)},
    "discord": {"token": ("token",)},
}
# Non-secret settings a connection may carry, with their types; anything else is refused (a typo would
# otherwise be silently ignored).
OPTIONS: dict[str, dict[str, type]] = {
    "github": {"installation_id": int, "feedback_repos": list, "feedback_labels": list},
    "gitlab": {"oauth": bool},
    "bitbucket": {"workspace": str},
    "jira": {"deployment": str, "acceptance_criteria_field": str, "default_project": str},
    "confluence": {"deployment": str, "default_space": str},
    "linear": {"oauth": bool, "default_team": str},
    "slack": {"channels": list},
    "discord": {"guild_id": str, "channels": list},
}

Secret = Field(default=None, min_length=1, max_length=SECRET_MAX, repr=False)


if TYPE_CHECKING:
    from app.runtime.settings import Settings


class CredentialsInput(BaseModel):
    token: str | None = Secret
    app_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    private_key: str | None = Secret
    email: str | None = Field(default=None, min_length=3, max_length=320)
    api_token: str | None = Secret
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Secret

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ConnectionInput(BaseModel):
    kind: Kind
    name: str = Field(pattern=NAME.pattern)
    base_url: str | None = Field(default=None, max_length=500)
    credentials: CredentialsInput
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=500, repr=False)
    options: dict[str, Any] = Field(default_factory=dict, max_length=20)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s):// URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> ConnectionInput:
        auth_type(self.kind, self.credentials.given())  # raises ValueError naming the accepted forms
        if self.kind in NEEDS_BASE_URL and not self.base_url:
            raise ValueError(f"{self.kind} needs base_url (e.g. https://your-site.atlassian.net)")
        allowed = OPTIONS[self.kind]
        for key, value in self.options.items():
            if key not in allowed:
                raise ValueError(
                    f"unknown option {key!r} for {self.kind}; known: {', '.join(sorted(allowed)) or 'none'}"
                )
            wanted = allowed[key]
            if wanted is int and isinstance(value, str) and value.isdigit():
                self.options[key] = value = int(value)
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ValueError(f"option {key!r} must be a {wanted.__name__}")
            if (isinstance(value, str) and len(value) > 200) or (
                isinstance(value, list)
                and (len(value) > 100 or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value))
            ):
                raise ValueError(f"option {key!r} is too long")
        if self.options.get("deployment") not in (None, "cloud", "datacenter"):
            raise ValueError("option 'deployment' must be cloud or datacenter")
        return self


def auth_type(kind: str, given: dict[str, str]) -> str:
    """The auth form the given credential fields make for `kind`; ValueError naming the accepted forms."""
    forms = AUTH_FORMS[kind]
    for name, fields in forms.items():
        if set(given) == set(fields):
            return name
    accepted = " or ".join("+".join(fields) for fields in forms.values())
    raise ValueError(f"{kind} credentials must be {accepted}")


class LastTest(BaseModel):
    at: datetime
    ok: bool
    detail: str
    login: str | None
    scopes: list[str]


class ConnectionView(BaseModel):
    """A connection as clients see it: never a credential, only whether a webhook secret is set."""

    id: str
    kind: Kind
    name: str
    base_url: str
    auth_type: Literal["token", "app", "basic"]
    webhook_path: str = Field(description="Where the service posts webhooks, relative to the server's URL.")
    has_webhook_secret: bool
    options: dict[str, Any]
    last_test: LastTest | None
    created_at: datetime

    @classmethod
    def of(cls, row: Integration) -> ConnectionView:
        last = None
        if row.last_tested_at is not None:
            last = LastTest(
                at=row.last_tested_at,
                ok=bool(row.last_test_ok),
                detail=row.last_test_detail or "",
                login=row.identity_login,
                scopes=list(row.scopes or []),
            )
        return cls(
            id=row.public_id,
            kind=row.kind,  # type: ignore[arg-type]
            name=row.name,
            base_url=row.base_url,
            auth_type=row.auth_type,  # type: ignore[arg-type]
            webhook_path=f"/v1/webhooks/{row.kind}/{row.hook_id}",
            has_webhook_secret=row.webhook_secret_sealed is not None,
            options=dict(row.options or {}),
            last_test=last,
            created_at=row.created_at,
        )


class ConnectionCheck(BaseModel):
    ok: bool
    connection: ConnectionView
    identity: Identity | None
    error: str | None = Field(description="Why the test failed: the typed reason and the service's message.")
    error_code: str | None


@dataclass(frozen=True)
class WebhookTarget:
    team_id: int
    connection_id: int
    kind: str
    secret: str | None


class Connections:
    def __init__(
        self,
        box: SecretBox | None,
        runtime: IntegrationRuntime,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.box = box
        self.runtime = runtime
        self.allow = AllowList.parse(runtime.settings.allowed_hosts)
        self.resolver = resolver
        self._kinds: dict[int, tuple[float, frozenset[str]]] = {}

    # --- managing ----------------------------------------------------------------------------------------

    async def add(self, team_id: int, user_id: int | None, data: ConnectionInput) -> ConnectionView:
        box = self._require_box()
        base_url = data.base_url or CLOUD_URLS[data.kind]
        await self.check_address(base_url)
        public_id = "con_" + secrets.token_urlsafe(15)
        given = data.credentials.given()
        row = await store.create(
            public_id=public_id,
            team_id=team_id,
            created_by_id=user_id,
            kind=data.kind,
            name=data.name,
            base_url=base_url,
            auth_type=auth_type(data.kind, given),
            credentials_sealed=box.seal(json.dumps(given), _purpose(public_id, "credentials")),
            webhook_secret_sealed=(
                box.seal(data.webhook_secret, _purpose(public_id, "webhook")) if data.webhook_secret else None
            ),
            hook_id=secrets.token_urlsafe(24),
            options=data.options,
        )
        self.forget(team_id)
        log.info("connection %s (%s) added for team %s", row.public_id, row.kind, team_id)
        return ConnectionView.of(row)

    async def list(self, team_id: int) -> list[ConnectionView]:
        return [ConnectionView.of(row) for row in await store.team_connections(team_id)]

    async def get(self, team_id: int, reference: str) -> ConnectionView:
        return ConnectionView.of(await self._owned(team_id, reference))

    async def remove(self, team_id: int, reference: str) -> ConnectionView:
        row = await self._owned(team_id, reference)
        await store.delete(team_id, row.public_id)
        self.forget(team_id)
        log.info("connection %s (%s) removed for team %s", row.public_id, row.kind, team_id)
        return ConnectionView.of(row)

    async def test(self, team_id: int, reference: str) -> ConnectionCheck:
        """One cheap authenticated call: who the credentials are and what they may do. A refusal is a result
        (ok=false with the reason), not an error: the connection exists, it just does not work."""
        from app.integrations.clients import client_for  # the clients import this module's types

        row = await self._owned(team_id, reference)
        now = datetime.now(UTC)
        identity: Identity | None = None
        error: IntegrationError | None = None
        try:
            info = self.open(row)
            await self.check_address(info.base_url)
            client = client_for(info, self.runtime)
            try:
                identity = await client.identity()
            finally:
                await client.aclose()
        except IntegrationError as exc:
            error = exc
        except InvalidRequest as exc:
            error = IntegrationError(exc.detail, service=row.kind)
        detail = (
            f"{identity.login}" + (f" — {identity.detail}" if identity and identity.detail else "")
            if identity
            else f"{error.code}: {error.detail}"
            if error
            else ""
        )
        await store.record_test(
            row.id,
            at=now,
            ok=identity is not None,
            detail=detail,
            login=identity.login if identity else None,
            scopes=identity.scopes if identity else [],
        )
        refreshed = await self._owned(team_id, row.public_id)
        return ConnectionCheck(
            ok=identity is not None,
            connection=ConnectionView.of(refreshed),
            identity=identity,
            error=f"{error.detail}" if error else None,
            error_code=error.code if error else None,
        )

    # --- using -------------------------------------------------------------------------------------------

    async def team_connections(self, team_id: int, kinds: tuple[str, ...] = KINDS) -> list[ConnectionInfo]:
        """The team's usable connections of these kinds, credentials opened; unreadable ones are skipped (and
        logged without their contents): a rotated-away key must not break every chat of the team."""
        found = []
        for row in await store.team_connections(team_id, kinds):
            try:
                found.append(self.open(row))
            except (SecretUnreadable, InvalidRequest) as exc:
                log.warning("connection %s cannot be opened: %s", row.public_id, exc)
        return found

    async def kinds(self, team_id: int) -> frozenset[str]:
        """The kinds of connection the team has, for choosing agents and tools. Cached for a few seconds per
        worker: every chat turn asks, and a connection added a moment ago may show up one turn later."""
        now = time.monotonic()
        cached = self._kinds.get(team_id)
        if cached is not None and now - cached[0] < self.runtime.settings.kinds_cache_s:
            return cached[1]
        found = frozenset(await store.kinds_of_team(team_id))
        if len(self._kinds) > 10_000:
            self._kinds.clear()
        self._kinds[team_id] = (now, found)
        return found

    def forget(self, team_id: int) -> None:
        self._kinds.pop(team_id, None)

    async def connection(self, team_id: int, reference: str) -> ConnectionInfo:
        return self.open(await self._owned(team_id, reference))

    def open(self, row: Integration) -> ConnectionInfo:
        box = self._require_box()
        credentials = json.loads(box.open(row.credentials_sealed, _purpose(row.public_id, "credentials")))
        return ConnectionInfo(
            id=row.id,
            team_id=row.team_id,
            kind=row.kind,  # type: ignore[arg-type]
            name=row.name,
            base_url=row.base_url,
            credentials=credentials,
            options=dict(row.options or {}),
        )

    async def webhook_target(self, hook_id: str, kind: str) -> WebhookTarget | None:
        """The connection a webhook URL names, with its secret opened; None when there is none of that kind."""
        if not hook_id or len(hook_id) > 40:
            return None
        row = await store.by_hook(hook_id, kind)
        if row is None:
            return None
        secret = None
        if row.webhook_secret_sealed is not None:
            secret = self._require_box().open(row.webhook_secret_sealed, _purpose(row.public_id, "webhook"))
        return WebhookTarget(team_id=row.team_id, connection_id=row.id, kind=row.kind, secret=secret)

    async def check_address(self, base_url: str) -> None:
        """A connection's host must be public, or allow-listed by the operator; only allow-listed hosts may use
        http:// (credentials would otherwise cross the network in clear)."""
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            resolved = await resolve_allowed(parts.hostname or "", port, self.allow, self.resolver)
        except AddressRefused as exc:
            raise InvalidRequest(f"base_url: {exc}; an operator can allow it in integrations.allowed_hosts") from None
        if parts.scheme == "http" and not resolved.allow_listed:
            raise InvalidRequest("base_url: http:// is only allowed for hosts in integrations.allowed_hosts")

    # --- internals ---------------------------------------------------------------------------------------

    async def _owned(self, team_id: int, reference: str) -> Integration:
        # A reference is a public id or a name; anything else cannot name a connection, and never reaches a query.
        row = await store.owned(team_id, reference) if NAME.fullmatch(reference or "") else None
        if row is None:
            raise ConnectionNotFound("no such connection")
        return row

    def _require_box(self) -> SecretBox:
        if self.box is None:
            raise InvalidRequest(
                "connections need a key to encrypt their credentials: set secrets.keys (see docs/configuration.md)"
            )
        return self.box


def _purpose(public_id: str, what: str) -> str:
    return f"integration:{public_id}:{what}"


def connections_of(settings: Settings, redis: Any | None) -> Callable[[], Connections]:
    """The team connections, built on first use: a worker process has no app context to borrow them from."""
    built: list[Connections] = []

    def connections() -> Connections:
        if not built:
            runtime = IntegrationRuntime(settings.integrations, redis=redis, key_prefix=settings.redis.key_prefix)
            built.append(Connections(load_secret_box(settings), runtime))
        return built[0]

    return connections
