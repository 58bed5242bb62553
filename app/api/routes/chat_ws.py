"""The query-solver WebSocket (docs/protocol.md §5): framing, in-band connection errors, keep-alive, and one relay
per followed step. Request handling itself is `QuerySolver.accept`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from sanic import Blueprint, Request
from sanic.exceptions import WebsocketClosed
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.exceptions import ConnectionClosed

from app import wire_errors
from app.api import paths
from app.api.client_check import check_client
from app.api.errors import report_to_sentry, to_adjutant_error
from app.api.guards import bearer_token
from app.api.socket_text import Utf8CheckedAssembler
from app.api.validation import check_headers
from app.api.ws_lifetime import release_http_timer
from app.auth.tokens import Authentication, TokenService
from app.chat.solver import Answer, Caller, QuerySolver
from app.chat.wire import direct, request_error
from app.db.ownership import parse_id
from app.db.wire_types import decode_json
from app.errors import (
    AuthUnavailable,
    ClientValidationError,
    ClientVersionTooOld,
    InvalidRequest,
    NotVerified,
    StoreUnavailable,
    TooManyStreams,
)
from app.runtime import metrics
from app.runtime.settings import Settings

bp = Blueprint("chat_ws")
REVERIFY_S = 10.0
log = logging.getLogger("adjutant.chat")


class ConnectionRefused(Exception):
    """An upgrade-time failure, reported after the client's first frame (docs/protocol.md §5.7)."""

    def __init__(self, frame: dict[str, Any], close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.frame = frame
        self.close_code = close_code
        self.reason = reason


def combined(status: str, message: Any) -> dict[str, Any]:
    """Top level for the client's middlewares, `data` for its stream loop: both, in one frame."""
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "type": "STREAM_ERROR",
        "status": status,
        "message": message,
        "data": {"type": "STREAM_ERROR", "status": status, "message": text},
    }


async def admit(request: Request, settings: Settings, tokens: TokenService) -> Authentication:
    try:  # X-Session-Type is stored on new sessions; no header may carry text PostgreSQL refuses
        check_headers(request.headers)
    except InvalidRequest as exc:
        raise ConnectionRefused(
            {"data": {"type": "STREAM_ERROR", "status": exc.code, "message": exc.detail}}, 4400, exc.code
        ) from None
    try:
        check_client(request.headers, settings.client, check_version=True)
    except ClientVersionTooOld:
        raise ConnectionRefused(
            combined(
                "INVALID_CLIENT_VERSION",
                {
                    "error_code": 101,
                    "upgrade_version": settings.client.min_version,
                    "client_download_link": settings.client.download_link,
                },
            ),
            4426,
            "INVALID_CLIENT_VERSION",
        ) from None
    except ClientValidationError as exc:
        raise ConnectionRefused(
            {"data": {"type": "STREAM_ERROR", "status": "CLIENT_HEADER_MISSING", "message": exc.detail}},
            4400,
            "CLIENT_HEADER_MISSING",
        ) from None
    try:
        return await tokens.authenticate(bearer_token(request))
    except NotVerified:
        raise ConnectionRefused(
            combined("NOT_VERIFIED", "Your session has expired; sign in again."), 4401, "NOT_VERIFIED"
        ) from None
    except AuthUnavailable:
        # data only, no top-level copy: the client must not log the user out for our outage
        raise ConnectionRefused(
            {
                "data": {
                    "type": "STREAM_ERROR",
                    "status": "AUTH_UNAVAILABLE",
                    "message": "Authentication is temporarily unavailable",
                }
            },
            1011,
            "AUTH_UNAVAILABLE",
        ) from None


class ChatConnection:
    def __init__(
        self, request: Request, ws: WebsocketImplProtocol, auth: Authentication, frames: Utf8CheckedAssembler
    ) -> None:
        app = request.app
        self.ws = ws
        self.frames = frames
        self.settings: Settings = app.ctx.settings
        self.solver: QuerySolver = app.ctx.solver
        self.tokens: TokenService = app.ctx.tokens
        self.raw_token = bearer_token(request)
        self.auth = auth
        self.caller = Caller(
            user_id=auth.principal.user_id,
            team_id=auth.principal.team_id,
            connection_id=uuid.uuid4().hex,
            header_session_id=parse_id(request.headers.get("x-session-id")),
            header_session_type=request.headers.get("x-session-type"),
        )
        self.send_lock = asyncio.Lock()
        self.relays: set[asyncio.Task[None]] = set()
        self.last_activity = asyncio.get_running_loop().time()
        self.verified_at = self.last_activity

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send(json.dumps(frame, separators=(",", ":")))

    async def serve(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            while True:
                message = await self.ws.recv(timeout=self.settings.chat.ping_interval_s)
                loop_time = asyncio.get_running_loop().time()
                if message is None:
                    if self.ws.ws_proto.state.name != "OPEN":
                        return
                    if not self.relays and loop_time - self.last_activity > self.settings.chat.idle_close_s:
                        await self.ws.close(1000, "idle")
                        return
                    continue
                self.last_activity = loop_time
                await self._handle(message)
        except (ConnectionClosed, WebsocketClosed):
            return  # the client went away; its steps keep running, buffered for resume
        finally:
            pinger.cancel()
            for task in self.relays:
                task.cancel()  # the steps themselves keep running, buffered for resume

    async def _handle(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            await self._reject("INVALID_REQUEST", "binary frames are not accepted")
            return
        if self.frames.is_stand_in(message):
            await self._reject("INVALID_REQUEST", "the frame is not valid UTF-8")
            return
        if len(message) > self.settings.chat.payload_max_bytes:
            await self._reject(
                "PAYLOAD_TOO_LARGE", f"frames are limited to {self.settings.chat.payload_max_bytes} bytes"
            )
            return
        try:  # the same decoder as every JSON body: bounded depth, finite numbers, storable text
            payload = decode_json(message, what="the frame")
        except InvalidRequest as exc:
            await self._reject(exc.code, exc.detail)
            return
        try:  # a token revoked since the upgrade ends the connection like an unusable one
            await self._reverify()
        except NotVerified:
            await self.send(combined("NOT_VERIFIED", "Your session has expired; sign in again."))
            await self.ws.close(4401, "NOT_VERIFIED")
            return
        except AuthUnavailable:
            await self._reject("AUTH_UNAVAILABLE", "Authentication is temporarily unavailable")
            return
        except Exception as exc:  # noqa: BLE001 - every request gets an answer
            await self._reject(*self._wire_error(exc))
            return
        if len(self.relays) >= self.settings.chat.max_streams_per_socket:
            # Before accept, so a request beyond the bound starts nothing (no step, no row, no relay).
            refused = TooManyStreams(f"this connection already follows {len(self.relays)} answers; wait for one to end")
            await self._reject(refused.code, refused.detail)
            return
        try:
            answer = await self.solver.accept(payload, self.caller)
        except Exception as exc:  # noqa: BLE001 - every request gets an answer; the socket stays usable
            answer = Answer(error=self._wire_error(exc))
        await self._answer(answer)

    @staticmethod
    def _wire_error(exc: Exception) -> tuple[str, str]:
        """(status, message) of a request-level STREAM_ERROR; a fault we did not expect is logged, not shown."""
        error = to_adjutant_error(exc)
        if wire_errors.is_unexpected(error, exc):
            log.error("unhandled error in a chat request", exc_info=exc)
            report_to_sentry(exc)
        elif isinstance(error, StoreUnavailable) and error is not exc:
            log.warning("a chat request met an unavailable store: %s", exc)
        return wire_errors.request_error_fields(exc)

    async def _reverify(self) -> None:
        """Re-check the token before a request, at most every REVERIFY_S: a revocation reaches open sockets
        within that time, and a burst of frames costs one lookup."""
        now = asyncio.get_running_loop().time()
        if now - self.verified_at >= REVERIFY_S:
            self.auth = await self.tokens.authenticate(self.raw_token)
            self.verified_at = now

    async def _answer(self, answer: Answer) -> None:
        if answer.ignore:
            return
        await self.send(self._stream_start())
        if answer.error is not None:
            await self.send(request_error(*answer.error))
            return
        if answer.session_id is not None:
            self.caller.bound_session_id = answer.session_id
        if answer.follow is not None:
            task = asyncio.create_task(self._relay(answer.follow, answer.after))
            self.relays.add(task)
            task.add_done_callback(self.relays.discard)

    async def _relay(self, stream_id: str, after: str | None) -> None:
        try:
            await self.solver.follow(stream_id, after, self.send)
        except (ConnectionClosed, WebsocketClosed):
            close = self.ws.ws_proto.close_rcvd
            if close is not None and close.code in (1000, 1001):
                log.debug("relay of %s ended with its connection", stream_id)
            else:  # the step keeps running for a resume, but a follower lost mid-stream is worth seeing
                log.warning("relay of %s lost its connection (%s)", stream_id, close or "no close frame")
        except Exception as exc:
            # The step may still finish (and be resumed), but this follower must not wait forever for its end.
            if isinstance(exc, StoreUnavailable):
                log.warning("relay of %s failed: %s", stream_id, exc.detail)
            else:
                log.error("relay of %s failed", stream_id, exc_info=exc)
                report_to_sentry(exc)
            with contextlib.suppress(Exception):
                await self.send(request_error("INTERNAL_ERROR", "The stream of this answer was interrupted"))

    def _stream_start(self) -> dict[str, Any]:
        extra = {"new_session_data": self.auth.replacement} if self.auth.replacement else {}
        return direct("STREAM_START", **extra)

    async def _reject(self, status: str, message: str) -> None:
        await self.send(self._stream_start())
        await self.send(request_error(status, message))

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.chat.ping_interval_s)
            with contextlib.suppress(Exception):
                await self.send(direct("PING"))


@bp.websocket(paths.CHAT_SOCKET, ctx_auth="none", ctx_client="none")
async def chat_socket(request: Request, ws: WebsocketImplProtocol) -> None:
    release_http_timer(request)
    frames = Utf8CheckedAssembler.install(ws)  # first: a frame that is not UTF-8 must not vanish during admit
    metrics.WEBSOCKETS_OPEN.inc()
    try:
        await _serve_socket(request, ws, frames)
    finally:
        metrics.WEBSOCKETS_OPEN.dec()


async def _serve_socket(request: Request, ws: WebsocketImplProtocol, frames: Utf8CheckedAssembler) -> None:
    settings: Settings = request.app.ctx.settings
    try:
        auth = await admit(request, settings, request.app.ctx.tokens)
    except ConnectionRefused as refused:
        # Reported only after the first client frame (or a grace period), so the client's loop sees it.
        with contextlib.suppress(Exception):
            await ws.recv(timeout=settings.chat.connection_error_grace_s)
        with contextlib.suppress(Exception):
            await ws.send(json.dumps(refused.frame))
            await ws.close(refused.close_code, refused.reason)
        return
    await ChatConnection(request, ws, auth, frames).serve()
