"""The one way the clients built on blocking Atlassian libraries (jira, atlassian-python-api) call a service.

The libraries use `requests`; every call runs in the runtime's bounded thread pool, never on the event loop.
Around each call, our policy (the libraries' own sleeping retries are switched off: a sleep there would hold
a pool thread): the connection's limiter first, a deadline, retries with jittered backoff on 5xx and dropped
connections for reads (a write only when the request never left), a 429's `Retry-After` turned into a
pause every worker shares, and the library's exceptions mapped to the typed errors of `app.errors` — they
never escape, and neither does their text (a `JIRAError` prints the request headers, credentials included).

Deployment: Cloud (`https://<site>.atlassian.net`) or Data Center (your host, with its context path), from
the connection's `deployment` option, else from the host name (`*.atlassian.net` is Cloud), else from the
credentials (email + API token is Cloud's form, a personal access token Data Center's). Authentication follows
the credentials: email + API token as HTTP Basic, a token as `Authorization: Bearer`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.blocking import BlockingPool
from app.integrations.connection import ConnectionInfo
from app.integrations.http import MESSAGE_CHARS, RETRY_STATUSES, USER_AGENT, CallPolicy, retry_after_seconds
from app.integrations.limiter import ConnectionLimiter

log = logging.getLogger("adjutant.integrations")
P = ParamSpec("P")
T = TypeVar("T")
Deployment = Literal["cloud", "datacenter"]


@dataclass(frozen=True)
class AtlassianAuth:
    """HTTP Basic (`user`, `secret`) or a Bearer token (`user` None)."""

    user: str | None
    secret: str

    @property
    def basic(self) -> tuple[str, str] | None:
        return (self.user, self.secret) if self.user is not None else None


def deployment_of(connection: ConnectionInfo) -> Deployment:
    chosen = connection.options.get("deployment")
    if chosen in ("cloud", "datacenter"):
        return chosen
    host = (urlsplit(connection.base_url).hostname or "").lower()
    if host.endswith(".atlassian.net"):
        return "cloud"
    if connection.credential("email") and connection.credential("api_token"):
        return "cloud"
    return "datacenter"


def auth_of(connection: ConnectionInfo) -> AtlassianAuth:
    email, api_token, token = (connection.credential(n) for n in ("email", "api_token", "token"))
    if email and api_token:
        return AtlassianAuth(email, api_token)
    if token:
        return AtlassianAuth(None, token)
    raise IntegrationAuthFailed(
        f"the {connection.kind} connection has no credentials (email + api_token, or token)", service=connection.kind
    )


class RedirectRefused(Exception):
    """A response pointed to another origin; the request is not followed there with our credentials."""


def guard_session(session: requests.Session, base_url: str) -> None:
    """Refuse redirects that leave the connection's origin (same-origin ones are followed) and send our
    User-Agent. `requests` would drop the Authorization header on another host, but the redirect itself
    would still make the server call an address the connection never named."""
    origin = _origin(base_url)

    def refuse_foreign_redirects(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.is_redirect:
            target = urljoin(response.url, response.headers.get("location", ""))
            if _origin(target) != origin:
                response.close()
                raise RedirectRefused()
        return response

    session.hooks["response"].append(refuse_foreign_redirects)
    session.headers["User-Agent"] = USER_AGENT


@dataclass
class _Failure:
    error: IntegrationError
    retry: Literal["never", "reads", "always"]
    pause_s: float | None = None


class AtlassianCalls:
    """Runs a connection's library calls through its limiter, the pool and the retry policy."""

    def __init__(self, service: str, *, limiter: ConnectionLimiter, pool: BlockingPool, policy: CallPolicy) -> None:
        self.service = service
        self.limiter = limiter
        self.pool = pool
        self.policy = policy
        # The library's timeout bounds connecting and each read; this bounds the whole call, a wait for a
        # pool thread included (a call not started by then is cancelled and never runs).
        self.deadline_s = policy.timeout_s * 2 + 1

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A call that changes nothing: retried on 5xx, timeouts and dropped connections."""
        return await self._call(True, fn, *args, **kwargs)

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A call that creates or changes something: retried only when the request never reached the service."""
        return await self._call(False, fn, *args, **kwargs)

    async def _call(self, is_read: bool, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempt = 0
        while True:
            await self.limiter.wait()
            failure: _Failure
            try:
                async with self.limiter.slot(), asyncio.timeout(self.deadline_s):
                    return await self.pool.run(fn, *args, **kwargs)
            except IntegrationError:
                raise
            except TimeoutError:
                failure = _Failure(self._unavailable("did not answer in time"), "reads")
            except Exception as exc:  # noqa: BLE001 - every library exception becomes a typed error
                failure = self._classify(exc)
            # Raised outside the except clause: the library's exception (and its text) is not even the context.
            if failure.pause_s is not None:
                await self.limiter.pause(failure.pause_s)
                if failure.pause_s <= self.limiter.max_wait_s and attempt < self.policy.max_retries:
                    attempt += 1
                    continue  # the limiter sleeps the pause out before the next attempt
                raise failure.error
            retryable = failure.retry == "always" or (failure.retry == "reads" and is_read)
            if retryable and attempt < self.policy.max_retries:
                attempt += 1
                log.info("%s call failed (%s); retry %d", self.service, failure.error.reason, attempt)
                await asyncio.sleep(random.uniform(0, self.policy.backoff_base_s * 2 ** (attempt - 1)))
                continue
            raise failure.error

    def _classify(self, exc: Exception) -> _Failure:
        if isinstance(exc, RedirectRefused):
            return _Failure(self._unavailable("redirected to another host; refused"), "never")
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_sent(exc):
            return _Failure(self._unavailable(f"could not be reached ({_kind(exc)})"), "always")
        if isinstance(exc, requests.exceptions.SSLError):
            return _Failure(self._unavailable("refused the TLS connection (certificate?)"), "never")
        if isinstance(exc, requests.exceptions.Timeout):
            return _Failure(self._unavailable("did not answer in time"), "reads")
        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return _Failure(self._unavailable(f"dropped the connection ({_kind(exc)})"), "reads")
        response = _response_of(exc)
        status = response.status_code if response is not None else getattr(exc, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return self._for_status(status, response)
        if isinstance(exc, requests.exceptions.RequestException):
            return _Failure(self._unavailable(f"call failed ({_kind(exc)})"), "never")
        # A body that is not what the library expected (HTML from a proxy, a half-written JSON).
        return _Failure(self._unavailable(f"answered something unexpected ({_kind(exc)})"), "never")

    def _for_status(self, status: int, response: requests.Response | None) -> _Failure:
        message = atlassian_message(response, status)
        service = self.service
        if status == 429:
            pause = (retry_after_seconds(response) if response is not None else None) or 1.0  # type: ignore[arg-type]
            limited = IntegrationRateLimited(
                f"{service} rate limit reached; retry in {max(1, round(pause))} s", retry_after=pause, service=service
            )
            return _Failure(limited, "never", pause_s=pause)
        if status in (401, 403):
            return _Failure(
                IntegrationAuthFailed(f"{service} refused the credentials ({message})", service=service), "never"
            )
        if status in (404, 410):
            return _Failure(IntegrationNotFound(f"{service} has no such object ({message})", service=service), "never")
        if status in (400, 409, 412, 413, 422):
            return _Failure(
                IntegrationRejected(f"{service} rejected the request ({message})", service=service), "never"
            )
        if status in RETRY_STATUSES:
            return _Failure(IntegrationUnavailable(f"{service} failed ({message})", service=service), "reads")
        if status >= 500:
            return _Failure(IntegrationUnavailable(f"{service} failed ({message})", service=service), "never")
        return _Failure(IntegrationError(f"{service} answered {message}", service=service), "never")

    def _unavailable(self, what: str) -> IntegrationUnavailable:
        return IntegrationUnavailable(f"{self.service} {what}", service=self.service)


def atlassian_message(response: requests.Response | None, status: int) -> str:
    """A short, safe reading of an Atlassian error body: Jira's `errorMessages` and `errors`, Confluence's
    `message`; never the raw body."""
    texts: list[str] = []
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        messages = body.get("errorMessages")
        if isinstance(messages, list):
            texts += [str(m) for m in messages if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            texts += [f"{field}: {text}" for field, text in errors.items() if text]
        elif isinstance(errors, list):
            texts += [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors if e]
        for key in ("message", "errorMessage"):
            if isinstance(body.get(key), str) and body[key]:
                texts.append(body[key])
    text = "; ".join(dict.fromkeys(texts))
    return f"HTTP {status}: {text[:MESSAGE_CHARS]}" if text else f"HTTP {status}"


def _response_of(exc: BaseException, depth: int = 0) -> requests.Response | None:
    """The HTTP response behind a library exception: `JIRAError.response`, `HTTPError.response`, or the
    `HTTPError` an `atlassian.errors.ApiError` keeps as its `reason`."""
    if depth > 4:
        return None
    response = getattr(exc, "response", None)
    if isinstance(response, requests.Response):
        return response
    for inner in (getattr(exc, "reason", None), exc.__cause__, exc.__context__):
        if isinstance(inner, BaseException):
            found = _response_of(inner, depth + 1)
            if found is not None:
                return found
    return None


def _never_sent(exc: Exception) -> bool:
    """A connection that was never made (refused, unresolvable): sending again cannot duplicate anything."""
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return isinstance(inner, NewConnectionError)


def _kind(exc: Exception) -> str:
    return exc.__class__.__name__


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return parts.scheme, (parts.hostname or "").lower(), port
