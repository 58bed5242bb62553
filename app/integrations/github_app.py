"""GitHub App authentication: a JWT signed with the App's private key, exchanged for an installation token.

The JWT (RS256; header.payload.signature in base64url without padding, signed here with `cryptography`) proves
we hold the App's key; GitHub refuses one that expires more than 10 minutes ahead, so ours is backdated 60 s
against clock drift and lives 10 minutes in all. It buys an installation token (valid one hour) at
`POST /app/installations/{id}/access_tokens`. That token is kept in this process's memory only — never Redis,
never disk — until 5 minutes before its `expires_at`, and forgotten as soon as GitHub refuses it (a 401).
Clients are built per tool call, so the cache is shared by every client of the same App installation in the
process: one exchange an hour, not one per call.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.errors import IntegrationAuthFailed, IntegrationNotFound, IntegrationRejected, IntegrationUnavailable
from app.integrations.connection import ConnectionInfo
from app.integrations.http import IntegrationHttp, RatePolicy
from app.integrations.runtime import IntegrationRuntime

SERVICE = "github"
JWT_BACKDATE_S = 60
JWT_AHEAD_S = 540  # GitHub refuses an `exp` more than 10 minutes from now
TOKEN_MARGIN_S = 300  # a token is replaced this long before it expires: a call never starts with a dying one


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise IntegrationAuthFailed(
            "github App private key is not a readable, unencrypted PEM key", service=SERVICE
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IntegrationAuthFailed("github App private key is not an RSA key", service=SERVICE)
    return key


def app_jwt(app_id: str, key: rsa.RSAPrivateKey, *, now: float) -> str:
    """The JWT GitHub expects from an App: RS256, `iat` 60 s in the past, `exp` ≤ 10 min ahead, `iss` the App."""
    header = {"alg": "RS256", "typ": "JWT"}
    payload = {
        "iat": int(now) - JWT_BACKDATE_S,
        "exp": int(now) + JWT_AHEAD_S,
        "iss": int(app_id) if app_id.isdigit() else app_id,
    }
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


@dataclass
class InstallationToken:
    token: str = field(repr=False)
    fresh_until: float
    permissions: dict[str, str] = field(default_factory=dict)


# Process memory only (see the module docstring). Keys are digests: the dict holds no key material.
_TOKENS: dict[str, InstallationToken] = {}


class GitHubAppAuth:
    """The headers of a GitHub App connection: a fresh JWT for the App's own endpoints, the installation token
    for everything else. `http` is the App's own call path (JWT-authenticated), sharing the connection's limiter."""

    def __init__(
        self,
        connection: ConnectionInfo,
        runtime: IntegrationRuntime,
        api_url: str,
        *,
        headers: dict[str, str],
        rate_policy: RatePolicy,
    ) -> None:
        self.app_id = connection.credential("app_id")
        pem = connection.credential("private_key")
        self._key = load_private_key(pem)
        self._installation_id = _installation_id(connection.options.get("installation_id"))
        self._cache_base = hashlib.sha256("\n".join((api_url, self.app_id, pem)).encode()).hexdigest()
        self._headers = dict(headers)
        self._lock = asyncio.Lock()  # parallel calls of one client wait for one exchange
        self.http: IntegrationHttp = runtime.http(
            connection, auth=self.jwt_headers, base_url=api_url, rate_policy=rate_policy
        )

    async def jwt_headers(self) -> dict[str, str]:
        return self._headers | {"Authorization": f"Bearer {app_jwt(self.app_id, self._key, now=time.time())}"}

    async def installation_headers(self) -> dict[str, str]:
        return self._headers | {"Authorization": f"Bearer {(await self.token()).token}"}

    async def installation_id(self) -> int:
        """The connection's installation; when it names none, the App's only one."""
        if self._installation_id is None:
            found = await self.http.get_json("/app/installations", params={"per_page": 2})
            count = len(found) if isinstance(found, list) else 0
            if count != 1:
                raise IntegrationRejected(
                    f"github App {self.app_id} is not installed anywhere"
                    if count == 0
                    else f"github App {self.app_id} has several installations; set the connection's installation_id",
                    service=SERVICE,
                )
            self._installation_id = _installation_id(found[0].get("id") if isinstance(found[0], dict) else None)
            if self._installation_id is None:
                raise IntegrationUnavailable("github listed an installation without an id", service=SERVICE)
        return self._installation_id

    async def token(self) -> InstallationToken:
        async with self._lock:
            installation = await self.installation_id()
            key = f"{self._cache_base}:{installation}"
            cached = _TOKENS.get(key)
            if cached is not None and cached.fresh_until > time.time():
                return cached
            fresh = await self._exchange(installation)
            _forget_stale()
            _TOKENS[key] = fresh
            return fresh

    async def forget_token(self) -> None:
        """GitHub refused the cached token (revoked, App reinstalled): the next call exchanges a new one."""
        if self._installation_id is not None:
            _TOKENS.pop(f"{self._cache_base}:{self._installation_id}", None)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _exchange(self, installation: int) -> InstallationToken:
        try:
            response = await self.http.request("POST", f"/app/installations/{installation}/access_tokens")
        except IntegrationNotFound:
            raise IntegrationAuthFailed(
                f"github App {self.app_id} has no installation {installation} (uninstalled, or another App's)",
                service=SERVICE,
            ) from None
        try:
            body = response.json()
            token = body["token"]
            expires_at = datetime.fromisoformat(body["expires_at"]).timestamp()
            permissions = {str(k): str(v) for k, v in (body.get("permissions") or {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrationUnavailable(
                "github answered the token exchange without a usable token", service=SERVICE
            ) from None
        if not isinstance(token, str) or not token:
            raise IntegrationUnavailable("github answered the token exchange without a usable token", service=SERVICE)
        return InstallationToken(token=token, fresh_until=expires_at - TOKEN_MARGIN_S, permissions=permissions)


def _installation_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) <= 0:
        raise IntegrationRejected("github installation_id must be a positive integer", service=SERVICE)
    return int(value)


def _forget_stale() -> None:
    now = time.time()
    for key in [k for k, v in _TOKENS.items() if v.fresh_until <= now]:
        _TOKENS.pop(key, None)
