"""Slack through `slack_sdk`'s AsyncWebClient: post and update messages (with blocks), channel history and
thread replies, permalinks.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`; the SDK raises them as
`SlackApiError`, and this module turns each code into our typed errors. The SDK's own retry handlers are
switched off: they would sleep outside the connection's limiter, where another worker cannot see the pause.
Our policy instead: the limiter before every call, a `ratelimited` answer's `Retry-After` as the shared pause,
jittered retries on 5xx and dropped connections (a post only when it never reached Slack), and no redirects.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.connection import ConnectionInfo
from app.integrations.runtime import IntegrationRuntime
from app.integrations.types import ChatMessage, Identity

SERVICE = "slack"
log = logging.getLogger("adjutant.integrations.slack")
MESSAGE_CHARS = 8_000
TEXT_MAX = 40_000  # Slack cuts longer message text itself
BLOCKS_MAX = 50  # Slack refuses more blocks in one message
PAGE_MAX = 200  # Slack's advice for conversations.* page sizes
LIST_MAX = 1_000
DEFAULT_RATE_PAUSE_S = 1.0
WORKSPACE_TTL_S = 24 * 3600
CHANNEL = re.compile(r"^[#@]?[A-Za-z0-9._-]{1,80}$")
TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")
ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")

AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"}
)
PERMISSION_ERRORS = frozenset(
    {
        "missing_scope",
        "not_allowed_token_type",
        "not_in_channel",
        "access_denied",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
NOT_FOUND_ERRORS = frozenset({"channel_not_found", "thread_not_found", "message_not_found"})
RATE_ERRORS = frozenset({"ratelimited", "rate_limited"})  # the second: chat.postMessage's per-channel limit
SERVER_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class _Redirected(Exception):
    """Slack answered with a redirect: not followed (the next hop is not ours to choose)."""


async def _refuse_redirects(
    request: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]]
) -> aiohttp.ClientResponse:
    response = await handler(request)
    if 300 <= response.status < 400:
        response.release()
        raise _Redirected()
    return response


class SlackClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        self._runtime = runtime
        self._limiter = runtime.limiter(connection)
        self._policy = runtime.policy
        self._session: aiohttp.ClientSession | None = None
        self._web: AsyncWebClient | None = None
        self._workspace: str | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._web = None

    async def identity(self) -> Identity:
        """`auth.test`: the bot user, its workspace, and the scopes Slack lists in `x-oauth-scopes`."""
        response = await self._call("auth_test", retry_safe=True)
        await self._remember_workspace(response.get("url"))
        scopes = [s.strip() for s in (response.headers.get("x-oauth-scopes") or "").split(",") if s.strip()]
        bot = f"; bot {response.get('bot_id')}" if response.get("bot_id") else ""
        return Identity(
            login=str(response.get("user") or response.get("user_id") or ""),
            name=response.get("user"),
            scopes=scopes,
            detail=f"Slack workspace {response.get('team') or '?'} ({response.get('team_id') or '?'}){bot}",
        )

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> ChatMessage:
        """Post `text` (the notification and fallback text; `blocks` for the layout), in a thread if given."""
        _check_channel(channel)
        _check_text(text, blocks)
        if thread_ts is not None:
            _check_ts(thread_ts)
        response = await self._call(
            "chat_postMessage",
            # A post that reached Slack may have been posted: only a refused or unsent one is sent again.
            retry_safe=False,
            channel=channel,
            text=text,
            blocks=list(blocks) if blocks else None,
            thread_ts=thread_ts,
        )
        channel_id = str(response.get("channel") or channel)
        message = dict(response.get("message") or {})
        message.setdefault("ts", response.get("ts"))
        if thread_ts:
            message.setdefault("thread_ts", thread_ts)
        posted = _message(message, channel_id, None)
        return posted.model_copy(update={"url": await self._permalink_or_none(channel_id, posted.id)})

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Sequence[Mapping[str, Any]] | None = None
    ) -> ChatMessage:
        """Replace a message's text (and blocks) with new ones."""
        _check_channel(channel)
        _check_ts(ts)
        _check_text(text, blocks)
        response = await self._call(
            "chat_update",
            # Sending the same replacement twice leaves the message as one send would.
            retry_safe=True,
            channel=channel,
            ts=ts,
            text=text,
            blocks=list(blocks) if blocks else None,
        )
        channel_id = str(response.get("channel") or channel)
        message = dict(response.get("message") or {})
        message.setdefault("ts", response.get("ts") or ts)
        message.setdefault("text", response.get("text") or text)
        return _message(message, channel_id, await self._workspace_url())

    async def history(self, channel: str, *, oldest: str | None = None, limit: int = 100) -> list[ChatMessage]:
        """A channel's messages, following Slack's cursors up to `limit`: newest first, or, with `oldest`
        (a ts, exclusive), oldest first, the order an incremental reader consumes them in."""
        _check_channel(channel)
        if oldest is not None:
            _check_ts(oldest)
        messages = await self._pages("conversations_history", limit, channel=channel, oldest=oldest)
        if oldest is not None:
            messages.sort(key=lambda m: float(m.get("ts") or 0))
        base = await self._workspace_url()
        return [_message(m, channel, base) for m in messages]

    async def replies(self, channel: str, thread_ts: str, *, limit: int = 100) -> list[ChatMessage]:
        """A thread: its root message, then the replies oldest first, up to `limit` in all."""
        _check_channel(channel)
        _check_ts(thread_ts)
        messages = await self._pages("conversations_replies", limit, channel=channel, ts=thread_ts)
        base = await self._workspace_url()
        return [_message(m, channel, base) for m in messages]

    async def permalink(self, channel: str, ts: str) -> str:
        """The message's address as Slack gives it (`chat.getPermalink`)."""
        _check_channel(channel)
        _check_ts(ts)
        response = await self._call("chat_getPermalink", retry_safe=True, channel=channel, message_ts=ts)
        link = response.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise IntegrationUnavailable("slack answered without a permalink", service=SERVICE)
        return link

    # --- calls -----------------------------------------------------------------------------------------------

    async def _pages(self, method: str, limit: int, **params: Any) -> list[dict[str, Any]]:
        wanted = max(1, min(limit, LIST_MAX))
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(found) < wanted:
            response = await self._call(
                method, retry_safe=True, limit=min(PAGE_MAX, wanted - len(found)), cursor=cursor, **params
            )
            page = [m for m in response.get("messages") or [] if isinstance(m, dict)]
            found.extend(page)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not page or not cursor:
                break
        return found[:wanted]

    async def _call(self, method: str, *, retry_safe: bool, **params: Any) -> AsyncSlackResponse:
        """One Web API method under our policy; the SDK's exceptions never leave this function."""
        attempt = 0
        api = method.replace("_", ".", 1)
        call = getattr(self._client(), method)
        while True:
            await self._limiter.wait()
            try:
                async with self._limiter.slot():
                    return await call(**params)
            except SlackApiError as exc:
                status, code, headers = _failure(exc)
                if status == 429 or code in RATE_ERRORS:
                    # Slack refused the call unprocessed: waiting and sending it again is safe for a post too.
                    pause = _retry_after(headers) or DEFAULT_RATE_PAUSE_S
                    await self._limiter.pause(pause)
                    if pause <= self._limiter.max_wait_s and attempt < self._policy.max_retries:
                        attempt += 1
                        continue
                    raise IntegrationRateLimited(
                        f"slack rate limit reached on {api}; retry in {max(1, round(pause))} s",
                        retry_after=pause,
                        service=SERVICE,
                    ) from None
                failure = _error_for(api, status, code)
                if isinstance(failure, IntegrationUnavailable) and retry_safe and attempt < self._policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise failure from None
            except _Redirected:
                raise IntegrationUnavailable(
                    f"slack answered {api} with a redirect; refused", service=SERVICE
                ) from None
            except aiohttp.ClientConnectorError as exc:
                # Never reached Slack: safe to send again whatever the method.
                if attempt < self._policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise IntegrationUnavailable(
                    f"slack could not be reached ({exc.__class__.__name__})", service=SERVICE
                ) from None
            except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
                if retry_safe and attempt < self._policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise IntegrationUnavailable(
                    f"slack did not answer {api} in time or dropped the connection ({exc.__class__.__name__})",
                    service=SERVICE,
                ) from None

    def _client(self) -> AsyncWebClient:
        # Made on first use, inside the running loop: an aiohttp session belongs to the loop that made it.
        if self._web is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._policy.timeout_s), middlewares=(_refuse_redirects,)
            )
            self._web = AsyncWebClient(
                token=self.connection.credential("token"),
                base_url=self.connection.base_url + "/",
                timeout=max(1, math.ceil(self._policy.timeout_s)),
                session=self._session,
                retry_handlers=[],
                logger=log,
            )
        return self._web

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, self._policy.backoff_base_s * 2 ** (attempt - 1)))

    async def _permalink_or_none(self, channel: str, ts: str) -> str | None:
        try:
            return await self.permalink(channel, ts)
        except IntegrationError:
            # The message is posted; a missing link must not make the caller think it was not.
            base = await self._workspace_url(quiet=True)
            return _archive_url(base, channel, ts, None) if base else None

    async def _workspace_url(self, *, quiet: bool = False) -> str | None:
        """The workspace's web address (from `auth.test`, kept in Redis for a day): message links are built
        from it instead of one `chat.getPermalink` call per message of a history page."""
        if self._workspace is not None:
            return self._workspace
        key = self._runtime.key(self.connection, "slack-workspace-url")
        redis = self._runtime.redis
        if redis is not None:
            cached = await redis.get(key)
            if cached:
                self._workspace = cached.decode() if isinstance(cached, bytes) else str(cached)
                return self._workspace
        try:
            response = await self._call("auth_test", retry_safe=True)
        except IntegrationError:
            if quiet:
                return None
            raise
        return await self._remember_workspace(response.get("url"))

    async def _remember_workspace(self, url: Any) -> str | None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return None
        self._workspace = url.rstrip("/")
        if self._runtime.redis is not None:
            key = self._runtime.key(self.connection, "slack-workspace-url")
            await self._runtime.redis.set(key, self._workspace, ex=WORKSPACE_TTL_S)
        return self._workspace


def _failure(exc: SlackApiError) -> tuple[int, str | None, Mapping[str, str]]:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None) or {}
    return int(status), code if isinstance(code, str) else None, headers


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_for(api: str, status: int, code: str | None) -> IntegrationError:
    # Slack's error codes are short identifiers; anything else is not repeated.
    shown = code if code and ERROR_CODE.match(code) else f"HTTP {status}"
    if code in AUTH_ERRORS or (code is None and status == 401):
        return IntegrationAuthFailed(f"slack refused the credentials ({shown})", service=SERVICE)
    if code in PERMISSION_ERRORS or (code is None and status == 403):
        return IntegrationAuthFailed(f"slack denied {api}: the bot lacks a permission ({shown})", service=SERVICE)
    if code in NOT_FOUND_ERRORS or (code is None and status == 404):
        return IntegrationNotFound(f"slack has no such object for {api} ({shown})", service=SERVICE)
    if code in SERVER_ERRORS or status >= 500:
        return IntegrationUnavailable(f"slack failed on {api} ({shown})", service=SERVICE)
    return IntegrationRejected(f"slack rejected {api} ({shown})", service=SERVICE)


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not CHANNEL.match(channel):
        raise IntegrationRejected("a Slack channel is an id like C0123ABCD (or #name)", service=SERVICE)


def _check_ts(ts: str) -> None:
    if not isinstance(ts, str) or not TS.match(ts):
        raise IntegrationRejected("a Slack message ts looks like 1712345678.123456", service=SERVICE)


def _check_text(text: str, blocks: Sequence[Mapping[str, Any]] | None) -> None:
    if not text.strip() and not blocks:
        raise IntegrationRejected("a Slack message needs text or blocks", service=SERVICE)
    if len(text) > TEXT_MAX:
        raise IntegrationRejected(f"a Slack message is limited to {TEXT_MAX} characters", service=SERVICE)
    if blocks is not None and (len(blocks) > BLOCKS_MAX or not all(isinstance(b, Mapping) for b in blocks)):
        raise IntegrationRejected(f"Slack blocks are a list of at most {BLOCKS_MAX} objects", service=SERVICE)


def _message(message: Mapping[str, Any], channel: str, base: str | None) -> ChatMessage:
    ts = str(message.get("ts") or "")
    thread_ts = message.get("thread_ts")
    profile = message.get("user_profile") if isinstance(message.get("user_profile"), dict) else {}
    bot_profile = message.get("bot_profile") if isinstance(message.get("bot_profile"), dict) else {}
    text = str(message.get("text") or "")
    return ChatMessage(
        id=ts,
        channel=channel,
        thread_id=str(thread_ts) if thread_ts else None,
        author_id=message.get("user") or message.get("bot_id"),
        author_name=profile.get("display_name")
        or profile.get("real_name")
        or message.get("username")
        or bot_profile.get("name"),
        is_bot=bool(message.get("bot_id")) or message.get("subtype") == "bot_message",
        text=text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…",
        created_at=_ts_time(ts),
        url=_archive_url(base, channel, ts, str(thread_ts) if thread_ts else None) if base and ts else None,
        reply_count=int(message.get("reply_count") or 0),
    )


def _archive_url(base: str, channel: str, ts: str, thread_ts: str | None) -> str:
    """The permalink form Slack's own `chat.getPermalink` answers: `/archives/<channel>/p<ts without dot>`,
    with the thread named for a reply."""
    url = f"{base}/archives/{channel}/p{ts.replace('.', '')}"
    return f"{url}?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else url


def _ts_time(ts: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError):
        return None
