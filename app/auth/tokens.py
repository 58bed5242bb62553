"""Issuing, checking, rotating and revoking bearer tokens (docs/protocol.md §2).

Tokens are opaque (`adj_` + 256 random bits); only their SHA-256 is stored. A token close to expiry, or
expired but still inside its refresh window, is rotated: its replacement is HMAC(rotation_key, old token),
so every worker that sees the same old token derives the same replacement without storing it in clear,
and presenting the old token again during the overlap window yields that same replacement (§2.4).
Revoking any token of a rotation chain revokes the whole chain: an old token inside its overlap would
otherwise keep handing out a revoked replacement, and a replacement would outlive its revoked original.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.exceptions import RedisError
from tortoise.exceptions import DBConnectionError, OperationalError

from app.auth.principal import Principal
from app.auth.token_cache import RevocationFeed, TokenCache
from app.db.models import ApiToken
from app.db.repositories import identity
from app.errors import AuthUnavailable, InvalidRequest, NotVerified
from app.runtime.settings import AuthSettings

TOKEN_PREFIX = "adj_"  # noqa: S105 - a format marker, not a credential
TOKEN_PATTERN = re.compile(r"^adj_[A-Za-z0-9_-]{43}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
log = logging.getLogger("adjutant.auth")
# Failures that mean "the token store is unreachable", never "the token is bad" (docs/protocol.md §1.5).
STORE_UNAVAILABLE = (
    DBConnectionError,
    OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class TokenState(enum.Enum):
    VALID = "VALID"
    NEAR_EXPIRY = "NEAR_EXPIRY"  # valid; rotate
    EXPIRED_REFRESHABLE = "EXPIRED_REFRESHABLE"  # serve, rotate
    ROTATED = "ROTATED"  # already replaced, inside the overlap window: serve, hand out the same replacement
    UNUSABLE = "UNUSABLE"


@dataclass(frozen=True)
class Authentication:
    principal: Principal
    state: TokenState
    replacement: str | None  # the new token to hand back (header new_session_data / EXPIRED body)
    expired: bool  # past its own expiry (served only because it is refreshable or inside the overlap)


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def derive_replacement(rotation_key: str, raw: str) -> str:
    digest = hmac.new(bytes.fromhex(rotation_key), raw.encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def classify(token: ApiToken, now: datetime, policy: AuthSettings, *, grace: bool) -> TokenState:
    if token.revoked_at is not None or token.user.disabled_at is not None:
        return TokenState.UNUSABLE
    if token.replaced_by_id is not None:
        overlap_end = (token.rotated_at or now) + timedelta(minutes=policy.rotation_overlap_minutes)
        return TokenState.ROTATED if now <= overlap_end else TokenState.UNUSABLE
    if now < token.expires_at:
        if token.expires_at - now <= timedelta(hours=policy.rotate_before_expiry_hours):
            return TokenState.NEAR_EXPIRY
        return TokenState.VALID
    window = timedelta(days=policy.grace_period_days if grace else policy.refresh_window_days)
    return TokenState.EXPIRED_REFRESHABLE if now - token.expires_at <= window else TokenState.UNUSABLE


class TokenService:
    def __init__(self, policy: AuthSettings, *, cache: TokenCache | None = None) -> None:
        self.policy = policy
        self.cache = cache
        self.revocations: RevocationFeed | None = None

    async def connect_revocations(self, feed: RevocationFeed) -> None:
        """Announce revocations on `feed`, and (with a cache) start serving cached tokens it keeps fresh."""
        self.revocations = feed
        await feed.start()

    async def disconnect_revocations(self) -> None:
        if self.revocations is not None:
            await self.revocations.stop()

    async def issue(
        self,
        *,
        email: str,
        team: str,
        name: str = "",
        user_name: str = "",
        ttl_days: int | None = None,
        origin: str = "cli",
    ) -> tuple[str, ApiToken]:
        """Create (or reuse) the user and team, and issue a token for them. Returns the raw token once."""
        email = email.strip().lower()
        if not EMAIL_PATTERN.match(email):
            raise InvalidRequest(f"not an email address: {email!r}")
        team = team.strip()
        if not 1 <= len(team) <= 100:
            raise InvalidRequest("team name must be 1-100 characters")
        if ttl_days is not None and not 1 <= ttl_days <= 3650:
            raise InvalidRequest("ttl_days must be between 1 and 3650")
        user = await identity.get_or_create_user(email, user_name or email.split("@")[0])
        team_row = await identity.get_or_create_team(team)
        await identity.ensure_membership(user, team_row)
        raw = new_raw_token()
        row = await identity.create_token(
            **self._token_fields(
                raw, user_id=user.id, team_id=team_row.id, name=name, origin=origin, now=utcnow(), ttl_days=ttl_days
            )
        )
        return raw, row

    async def issue_for(self, principal: Principal, *, name: str, origin: str, raw: str | None = None) -> str:
        """A new token for an already-authenticated principal (browser login hands one to the extension).

        `raw` is a token the caller derived itself (a login binding's); by default a random one."""
        if raw is not None and not TOKEN_PATTERN.match(raw):
            raise ValueError("not a token")
        raw = raw or new_raw_token()
        await identity.create_token(
            **self._token_fields(
                raw, user_id=principal.user_id, team_id=principal.team_id, name=name, origin=origin, now=utcnow()
            )
        )
        return raw

    def _token_fields(
        self,
        raw: str,
        *,
        user_id: int,
        team_id: int,
        name: str,
        origin: str,
        now: datetime,
        ttl_days: int | None = None,
    ) -> dict[str, object]:
        """The stored form of a token: its hash and display prefix, never the token itself."""
        return {
            "user_id": user_id,
            "team_id": team_id,
            "token_hash": hash_token(raw),
            "prefix": raw[:12],
            "name": name,
            "origin": origin,
            "rotation_key": secrets.token_hex(32),
            "expires_at": now + timedelta(days=ttl_days or self.policy.token_ttl_days),
        }

    async def revoke_raw(self, raw: str) -> None:
        """Revoke a token and the rest of its rotation chain."""
        await identity.revoke_token_hash(hash_token(raw), utcnow())
        await self._announce_revocation()

    async def _announce_revocation(self) -> None:
        """Every worker forgets its cached tokens now; without Redis they expire within the cache's TTL."""
        if self.revocations is None:
            return
        try:
            await self.revocations.publish()
        except RedisError:
            log.warning(
                "could not announce a revocation; cached tokens expire within %.0f s", self.policy.token_cache_s
            )

    async def authenticate(
        self, raw: str | None, *, grace: bool = False, now: datetime | None = None
    ) -> Authentication:
        """Resolve a bearer token; raise NotVerified if unusable, AuthUnavailable if the store is down."""
        if not raw or not TOKEN_PATTERN.match(raw):
            raise NotVerified("missing or malformed token")
        token_hash = hash_token(raw)
        cache = self.cache if now is None else None  # a caller naming the time wants it judged, not remembered
        if cache is not None and (cached := cache.get(token_hash)) is not None:
            return cached
        generation = cache.generation if cache is not None else 0
        now = now or utcnow()
        try:
            token = await identity.find_token(token_hash)
            if token is None:
                raise NotVerified("unknown token")
            state = classify(token, now, self.policy, grace=grace)
            if state is TokenState.UNUSABLE:
                raise NotVerified("token revoked or expired")
            replacement = None
            if state in (TokenState.NEAR_EXPIRY, TokenState.EXPIRED_REFRESHABLE, TokenState.ROTATED):
                replacement = await self._rotate(token, raw, now)
            if (
                token.last_used_at is None
                or (now - token.last_used_at).total_seconds() >= self.policy.last_used_resolution_s
            ):
                await identity.touch_token(token.id, now)
        except STORE_UNAVAILABLE as exc:
            raise AuthUnavailable("the token store is unavailable") from exc
        principal = Principal(
            user_id=token.user_id,
            team_id=token.team_id,
            token_id=token.id,
            email=token.user.email,
            name=token.user.name,
            team_name=token.team.name,
        )
        auth = Authentication(principal, state, replacement, expired=now >= token.expires_at)
        if cache is not None and state is TokenState.VALID:
            # Never cached into the window where the token must be rotated: that answer carries a replacement.
            rotate_at = token.expires_at - timedelta(hours=self.policy.rotate_before_expiry_hours)
            cache.put(token_hash, auth, generation, (rotate_at - now).total_seconds())
        return auth

    async def _rotate(self, token: ApiToken, raw: str, now: datetime) -> str:
        replacement = derive_replacement(token.rotation_key, raw)
        if token.replaced_by_id is None:
            fields = self._token_fields(
                replacement, user_id=token.user_id, team_id=token.team_id, name=token.name, origin="rotation", now=now
            )
            if await identity.record_rotation(token, fields, now) is None:
                raise NotVerified("token revoked or expired")
        return replacement

    async def revoke(self, *, prefix: str | None = None, email: str | None = None) -> int:
        """Revoke the tokens with `prefix` or of the user `email`, with their whole rotation chains (the
        tokens they replaced and were replaced by): returns how many tokens were revoked."""
        if not prefix and not email:
            raise InvalidRequest("name a token prefix or a user email to revoke")
        email = email.strip().lower() if email else None
        count = await identity.revoke_tokens(prefix=prefix, email=email, now=utcnow())
        if count:
            await self._announce_revocation()
        return count
