"""The one way our httpx-based clients (GitHub, GitLab, Bitbucket, Linear, Discord) call a service.

Every call: the connection's limiter first (a pause another worker learned), a timeout, retries with
jittered exponential backoff on 5xx and dropped connections (a POST only when the request never left, so
nothing is created twice), `Retry-After` and rate-limit headers turned into a shared pause, and the status
mapped to the typed errors of `app.errors`. Optional conditional GETs keep ETag + body in Redis: an unchanged
resource costs the service nothing (GitHub does not count a 304 against the limit).

Redirects are never followed and pagination links must stay on the connection's origin: a service (or
something pretending to be one) cannot steer the server elsewhere with the connection's credentials.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.limiter import ConnectionLimiter
from app.runtime.settings import IntegrationSettings

log = logging.getLogger("adjutant.integrations")
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MESSAGE_CHARS = 300
ETAG_BODY_MAX_BYTES = 512 * 1024
USER_AGENT = "Adjutant"

# The headers a client computes per call (a GitHub App installation token is refreshed when it expires).
AuthHeaders = Callable[[], Awaitable[Mapping[str, str]]]
# A service-specific reading of a response: seconds to pause all calls, or None. Runs before the default.
RatePolicy = Callable[[httpx.Response], float | None]


@dataclass(frozen=True)
class CallPolicy:
    timeout_s: float
    max_retries: int
    backoff_base_s: float

    @classmethod
    def from_settings(cls, settings: IntegrationSettings) -> CallPolicy:
        return cls(settings.timeout_s, settings.max_retries, settings.backoff_base_s)


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the service asked us to wait: `Retry-After` (seconds or an HTTP date), else a rate-limit reset
    when the remaining budget is spent (X-RateLimit-Reset / RateLimit-Reset as epoch seconds or a delta)."""
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - now)
            except (TypeError, ValueError):
                pass
    remaining = response.headers.get("x-ratelimit-remaining") or response.headers.get("ratelimit-remaining")
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("ratelimit-reset")
    if remaining is not None and reset is not None:
        try:
            if float(remaining) > 0:
                return None
            reset_at = float(reset)
        except ValueError:
            return None
        # Epoch seconds (GitHub, GitLab) or, for small values, seconds from now (the IETF draft's form).
        return max(0.0, reset_at - now) if reset_at > 1e9 else max(0.0, reset_at)
    return None


def upstream_message(response: httpx.Response) -> str:
    """A short, safe description of why the service refused: its own `message`/`error` field when it has one."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    text = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errorMessages", "errors", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if isinstance(value, list) and value:
                first = value[0]
                value = first.get("message") if isinstance(first, dict) else str(first)
            if value:
                text = str(value)
                break
    return f"HTTP {response.status_code}: {text[:MESSAGE_CHARS]}" if text else f"HTTP {response.status_code}"


class IntegrationHttp:
    """Calls to one service for one connection. Create one per connection and reuse it (one connection pool)."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        auth: AuthHeaders,
        limiter: ConnectionLimiter,
        policy: CallPolicy,
        redis: Any | None = None,
        etag_prefix: str | None = None,
        etag_ttl_s: int = 0,
        rate_policy: RatePolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_refused: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._auth = auth
        self.limiter = limiter
        self.policy = policy
        self._redis = redis
        self._etag_prefix = etag_prefix
        self._etag_ttl_s = etag_ttl_s
        self._rate_policy = rate_policy
        self._on_refused = on_refused
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(policy.timeout_s),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if _origin(path) != self._origin:
                raise IntegrationUnavailable(f"{self.service} pointed to another host; refused", service=self.service)
            return path
        return urljoin(self.base_url + "/", path.lstrip("/"))

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """The response of a successful call (2xx, or a status in `ok`); a typed IntegrationError otherwise.

        `idempotent` overrides the method's own answer: a GraphQL query is a POST that is safe to send again."""
        url = self.url(path)
        method = method.upper()
        retry_safe = method in IDEMPOTENT if idempotent is None else idempotent
        attempt = 0
        refreshed_auth = False
        while True:
            await self.limiter.wait()
            sent_headers = dict(await self._auth()) | dict(headers or {})
            try:
                async with self.limiter.slot():
                    response = await self._client.request(
                        method, url, params=params, json=json_body, content=content, headers=sent_headers
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never reached the service: safe to send again whatever the method.
                failure: IntegrationError = IntegrationUnavailable(
                    f"{self.service} could not be reached ({exc.__class__.__name__})", service=self.service
                )
                if attempt < self.policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise failure from None
            except httpx.TransportError as exc:
                failure = IntegrationUnavailable(
                    f"{self.service} did not answer in time or dropped the connection ({exc.__class__.__name__})",
                    service=self.service,
                )
                if retry_safe and attempt < self.policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise failure from None
            status = response.status_code
            if 200 <= status < 300 or status in ok:
                await self._note_budget(response)
                return response
            pause = self._pause_for(response)
            if pause is not None:
                await self.limiter.pause(pause)
                if pause <= self.limiter.max_wait_s and attempt < self.policy.max_retries:
                    attempt += 1
                    continue  # the limiter sleeps the pause out before the next attempt
                raise IntegrationRateLimited(
                    f"{self.service} rate limit reached; retry in {max(1, round(pause))} s",
                    retry_after=pause,
                    service=self.service,
                )
            if status == 401 and self._on_refused is not None and not refreshed_auth:
                # A cached token the service no longer honours (revoked, rotated): fetch a new one once.
                refreshed_auth = True
                await self._on_refused()
                continue
            if status in RETRY_STATUSES and retry_safe and attempt < self.policy.max_retries:
                attempt += 1
                await self._backoff(attempt)
                continue
            raise self._error_for(response)

    async def get_json(self, path: str, *, params: Mapping[str, Any] | None = None, conditional: bool = False) -> Any:
        if not conditional or self._redis is None or not self._etag_prefix or self._etag_ttl_s <= 0:
            return _json(await self.request("GET", path, params=params), self.service)
        key = self._etag_key(path, params)
        cached = await self._redis.get(key)
        entry = json.loads(cached) if cached else None
        headers = {"If-None-Match": entry["etag"]} if entry else {}
        response = await self.request("GET", path, params=params, headers=headers, ok=(304,))
        if response.status_code == 304 and entry is not None:
            return entry["body"]
        body = _json(response, self.service)
        etag = response.headers.get("etag")
        if etag and len(response.content) <= ETAG_BODY_MAX_BYTES:
            await self._redis.set(key, json.dumps({"etag": etag, "body": body}), ex=self._etag_ttl_s)
        return body

    async def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        limit: int,
        items: Callable[[Any], list[Any]] = lambda body: body if isinstance(body, list) else [],
        next_url: Callable[[httpx.Response, Any], str | None] | None = None,
    ) -> AsyncIterator[Any]:
        """Items across pages, at most `limit`. Pages follow the `Link: rel="next"` header (GitHub, GitLab) or
        what `next_url` reads from the body (Bitbucket's `next`)."""
        url: str | None = path
        query = dict(params or {})
        seen = 0
        while url is not None and seen < limit:
            response = await self.request("GET", url, params=query or None)
            body = _json(response, self.service)
            for item in items(body):
                yield item
                seen += 1
                if seen >= limit:
                    return
            url = next_url(response, body) if next_url else response.links.get("next", {}).get("url")
            query = {}  # the next link carries the query

    def _pause_for(self, response: httpx.Response) -> float | None:
        if self._rate_policy is not None:
            custom = self._rate_policy(response)
            if custom is not None:
                return custom
        if response.status_code == 429:
            return retry_after_seconds(response) or 1.0
        if response.status_code == 403:
            return retry_after_seconds(response)  # GitHub's primary limit is a 403 with remaining 0
        return None

    async def _note_budget(self, response: httpx.Response) -> None:
        """A success that spent the last of the budget pauses the next call until the reset."""
        if response.headers.get("x-ratelimit-remaining") == "0" or response.headers.get("ratelimit-remaining") == "0":
            pause = retry_after_seconds(response)
            if pause:
                await self.limiter.pause(pause)

    def _error_for(self, response: httpx.Response) -> IntegrationError:
        message = upstream_message(response)
        status = response.status_code
        if status in (401, 403):
            return IntegrationAuthFailed(f"{self.service} refused the credentials ({message})", service=self.service)
        if status in (404, 410):
            return IntegrationNotFound(f"{self.service} has no such object ({message})", service=self.service)
        if status in (400, 409, 412, 422):
            return IntegrationRejected(f"{self.service} rejected the request ({message})", service=self.service)
        if status >= 500:
            return IntegrationUnavailable(f"{self.service} failed ({message})", service=self.service)
        return IntegrationError(f"{self.service} answered {message}", service=self.service)

    async def _backoff(self, attempt: int) -> None:
        # Full jitter: retries from many workers spread out instead of arriving together.
        await asyncio.sleep(random.uniform(0, self.policy.backoff_base_s * 2 ** (attempt - 1)))

    def _etag_key(self, path: str, params: Mapping[str, Any] | None) -> str:
        digest = hashlib.sha256((path + "?" + json.dumps(params or {}, sort_keys=True)).encode()).hexdigest()[:32]
        return f"{self._etag_prefix}{digest}"


def _json(response: httpx.Response, service: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise IntegrationUnavailable(f"{service} answered with something that is not JSON", service=service) from None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return parts.scheme, (parts.hostname or "").lower(), port
