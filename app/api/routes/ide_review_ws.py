"""The IDE review's two sockets (docs/review-protocol.md §5, §6): framing, in-band connection errors, keep-alive,
and one answer per client message, in order. The work itself is `app.review.ide` (agent runs, post-process).

Every upgrade is accepted: a bad token or an old client is reported after the client's first message, when its
agent ids are known, and the connection stays open (the client reconnects forever to a closed one, and sends
nothing on the new one). Every frame is a JSON text frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sanic import Blueprint, Request
from sanic.exceptions import WebsocketClosed
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.exceptions import ConnectionClosed

from app.api import paths
from app.api.client_check import check_client
from app.api.errors import report_to_sentry
from app.api.guards import bearer_token
from app.api.socket_text import Utf8CheckedAssembler
from app.api.validation import check_headers
from app.api.ws_lifetime import release_http_timer
from app.auth.tokens import Authentication, TokenService
from app.db.wire_types import decode_json
from app.errors import AuthUnavailable, ClientValidationError, ClientVersionTooOld, InvalidRequest, NotVerified
from app.review.ide.runtime import IdeReviews
from app.review.ide.wire import agent_fail, frame, readable_agent_ids, stream_end, stream_error, stream_start
from app.runtime import metrics
from app.runtime.settings import Settings

bp = Blueprint("ide_review_ws")
log = logging.getLogger("adjutant.review")
REVERIFY_S = 10.0  # a revoked token reaches open sockets within this time; a burst of messages costs one lookup
IDLE_CHECK_S = 30.0
QUEUED_MESSAGES = 32  # per connection; beyond it the connection stops reading until one is answered
SIGN_IN_AGAIN = "Your session has expired; sign in again."
UNAVAILABLE = "service unavailable"


@dataclass(frozen=True)
class Refusal:
    """Why a message cannot be served: the top-level STREAM_ERROR (None for our own outage, which must not log
    the user out) and the text each agent or the post-process fails with."""

    error: dict[str, Any] | None
    message: str


def upgrade_refusal(request: Request, settings: Settings) -> Refusal | None:
    try:
        check_headers(request.headers)
        check_client(request.headers, settings.client, check_version=True)
    except ClientVersionTooOld:
        upgrade = {
            "error_code": 101,
            "upgrade_version": settings.client.min_version,
            "client_download_link": settings.client.download_link,
        }
        return Refusal(stream_error("INVALID_CLIENT_VERSION", upgrade), "Update the extension to review code.")
    except (ClientValidationError, InvalidRequest) as exc:
        return Refusal(stream_error(exc.code, exc.detail), exc.detail)
    return None


class ReviewSocketBase:
    """One connection: messages are read as they come and answered one after another."""

    def __init__(self, request: Request, ws: WebsocketImplProtocol, frames: Utf8CheckedAssembler) -> None:
        app = request.app
        self.ws = ws
        self.frames = frames
        self.settings: Settings = app.ctx.settings
        self.reviews: IdeReviews = app.ctx.ide_reviews
        self.tokens: TokenService = app.ctx.tokens
        self.header_token = bearer_token(request)
        self.refusal = upgrade_refusal(request, self.settings)
        self.verified: dict[str, tuple[Authentication, float]] = {}
        self.queue: asyncio.Queue[str | bytes] = asyncio.Queue(QUEUED_MESSAGES)
        self.send_lock = asyncio.Lock()
        self.busy = False
        self.last_activity = asyncio.get_running_loop().time()

    # --- the connection ------------------------------------------------------------------------------------

    async def serve(self) -> None:
        worker = asyncio.create_task(self._work())
        try:
            while True:
                message = await self.ws.recv(timeout=min(IDLE_CHECK_S, self.reviews.limits.idle_socket_s))
                now = asyncio.get_running_loop().time()
                if message is None:
                    if self.ws.ws_proto.state.name != "OPEN":
                        return
                    idle = now - self.last_activity > self.reviews.limits.idle_socket_s
                    if idle and not self.busy and self.queue.empty():
                        await self.ws.close(1000, "idle")
                        return
                    continue
                self.last_activity = now
                await self.queue.put(message)
        except (ConnectionClosed, WebsocketClosed):
            return  # the client went away: the step answering on this connection is aborted with it
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            self.busy = True
            try:
                await self._answer(message)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is None or current.cancelling():
                    raise  # the connection is closing
                log.error("a review socket answer was cancelled from inside")
                await self.send(stream_end())
            except Exception as exc:
                log.error("a review socket message failed", exc_info=exc)
                report_to_sentry(exc)
                await self.send(stream_end())
            finally:
                self.busy = False
                self.last_activity = asyncio.get_running_loop().time()

    async def send(self, message: dict[str, Any]) -> None:
        """One JSON text frame; a connection that has gone away loses it (the client never asks again)."""
        try:
            async with self.send_lock:
                await self.ws.send(json.dumps(message, separators=(",", ":")))
        except (ConnectionClosed, WebsocketClosed):
            log.debug("a %s frame was lost with its connection", message.get("type"))

    @contextlib.asynccontextmanager
    async def progress(self) -> AsyncIterator[None]:
        """IN_PROGRESS frames while a message is being answered."""

        async def tick() -> None:
            while True:
                await asyncio.sleep(self.reviews.limits.progress_interval_s)
                await self.send(frame("IN_PROGRESS"))

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()

    # --- one message ---------------------------------------------------------------------------------------

    async def _answer(self, message: str | bytes) -> None:
        payload = self._decode(message)
        if payload is None:
            await self.unreadable()
            return
        admitted = self.refusal or await self._authenticate(payload)
        if isinstance(admitted, Refusal):
            await self.refused(payload, admitted)
            return
        await self.answered(payload, admitted)

    def _decode(self, message: str | bytes) -> dict[str, Any] | None:
        if isinstance(message, bytes) or self.frames.is_stand_in(message):
            return None
        limit = self.reviews.limits.frame_max_bytes
        if len(message) > limit or len(message.encode()) > limit:
            return None
        try:
            payload = decode_json(message, what="the frame")
        except InvalidRequest:
            return None
        return payload if isinstance(payload, dict) else None

    async def _authenticate(self, payload: dict[str, Any]) -> Authentication | Refusal:
        """The upgrade's bearer token, else the message's `auth_token`; both present must be one principal."""
        body_token = payload.get("auth_token") if isinstance(payload.get("auth_token"), str) else None
        token = self.header_token or body_token or None
        try:
            auth = await self._verify(token)
        except NotVerified:
            return Refusal(stream_error("NOT_VERIFIED", SIGN_IN_AGAIN), SIGN_IN_AGAIN)
        except AuthUnavailable:
            return Refusal(None, UNAVAILABLE)
        if self.header_token and body_token and body_token != self.header_token:
            try:
                other = await self._verify(body_token)
            except NotVerified:
                other = None  # an older token the client still holds: the upgrade's decides
            except AuthUnavailable:
                return Refusal(None, UNAVAILABLE)
            if other is not None and other.principal.user_id != auth.principal.user_id:
                return Refusal(stream_error("NOT_VERIFIED", SIGN_IN_AGAIN), SIGN_IN_AGAIN)
            if other is not None and other.principal.team_id != auth.principal.team_id:
                return Refusal(stream_error("NOT_VERIFIED", SIGN_IN_AGAIN), SIGN_IN_AGAIN)
        return auth

    async def _verify(self, token: str | None) -> Authentication:
        now = asyncio.get_running_loop().time()
        cached = self.verified.get(token or "")
        if cached is not None and now - cached[1] < REVERIFY_S:
            return cached[0]
        auth = await self.tokens.authenticate(token)
        if len(self.verified) > 8:
            self.verified.clear()
        self.verified[token or ""] = (auth, now)
        return auth

    async def unreadable(self) -> None:
        raise NotImplementedError

    async def refused(self, payload: dict[str, Any], refusal: Refusal) -> None:
        raise NotImplementedError

    async def answered(self, payload: dict[str, Any], auth: Authentication) -> None:
        raise NotImplementedError


class ReviewSocket(ReviewSocketBase):
    """docs/review-protocol.md §5: STREAM_START, then per item at most one outcome frame, then STREAM_END."""

    async def unreadable(self) -> None:
        await self.send(stream_start())
        await self.send(stream_end())

    async def refused(self, payload: dict[str, Any], refusal: Refusal) -> None:
        await self.send(refusal.error if refusal.error is not None else stream_start())
        for agent_id in readable_agent_ids(payload):
            await self.send(agent_fail(agent_id, refusal.message))
        await self.send(stream_end())

    async def answered(self, payload: dict[str, Any], auth: Authentication) -> None:
        await self.send(stream_start(auth.replacement))
        async with self.progress():
            await self.reviews.runs.answer(payload, auth.principal, self.send)
        await self.send(stream_end())


class PostProcessSocket(ReviewSocketBase):
    """docs/review-protocol.md §6: STREAM_START, POST_PROCESS_START, COMPLETE or ERROR, STREAM_END."""

    async def unreadable(self) -> None:
        await self.send(stream_start())
        await self.send(frame("POST_PROCESS_START", message="Finalizing the review"))
        await self.send(frame("POST_PROCESS_ERROR", message="The request could not be read."))
        await self.send(stream_end())

    async def refused(self, payload: dict[str, Any], refusal: Refusal) -> None:
        await self.send(refusal.error if refusal.error is not None else stream_start())
        await self.send(frame("POST_PROCESS_ERROR", message=refusal.message))
        await self.send(stream_end())

    async def answered(self, payload: dict[str, Any], auth: Authentication) -> None:
        await self.send(stream_start(auth.replacement))
        await self.send(frame("POST_PROCESS_START", message="Finalizing the review"))
        if payload.get("action") not in (None, "post-process"):
            await self.send(frame("POST_PROCESS_ERROR", message="This server does not know that action."))
        else:
            async with self.progress():
                try:
                    outcome = await self.reviews.post_process.run(auth.principal, payload.get("review_id"))
                except Exception as exc:
                    log.error("post-process failed", exc_info=exc)
                    report_to_sentry(exc)
                    outcome = None
            if outcome is not None and outcome.ok:
                await self.send(
                    frame(
                        "POST_PROCESS_COMPLETE", message=outcome.message, result={"status": "COMPLETED"}, progress=100
                    )
                )
            else:
                message = outcome.message if outcome is not None else "Finalizing the review failed; try again."
                await self.send(frame("POST_PROCESS_ERROR", message=message))
        await self.send(stream_end())


async def _serve(request: Request, ws: WebsocketImplProtocol, kind: type[ReviewSocketBase]) -> None:
    release_http_timer(request)
    frames = Utf8CheckedAssembler.install(ws)  # first: a frame that is not UTF-8 must not vanish unanswered
    metrics.WEBSOCKETS_OPEN.inc()
    try:
        await kind(request, ws, frames).serve()
    finally:
        metrics.WEBSOCKETS_OPEN.dec()


@bp.websocket(paths.REVIEW_SOLVER, ctx_auth="none", ctx_client="none")
async def review_socket(request: Request, ws: WebsocketImplProtocol) -> None:
    await _serve(request, ws, ReviewSocket)


@bp.websocket(paths.REVIEW_POST_PROCESS_SOLVER, ctx_auth="none", ctx_client="none")
async def post_process_socket(request: Request, ws: WebsocketImplProtocol) -> None:
    await _serve(request, ws, PostProcessSocket)
