"""The chat socket of `adjutant chat`: read all the time, so keep-alive pings are answered however long the
user takes, and opened again after a drop (bounded attempts with backoff) so the caller can resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

SOCKET_PATH = "/end_user/v2/code-gen/generate-code-ws"
RECONNECT_ATTEMPTS = 6
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 8.0
OPEN_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 64 * 1024 * 1024


class ConnectionLost(Exception):
    """The server cannot be reached (any more); the message is one line for the user."""


def socket_url(server: str) -> str:
    return server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + SOCKET_PATH


def describe(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


class ChatSocket:
    """One logical connection to the query solver, over as many sockets as drops make necessary."""

    def __init__(
        self,
        server: str,
        headers: Callable[[], dict[str, str]],
        *,
        attempts: int = RECONNECT_ATTEMPTS,
        backoff_s: float = BACKOFF_INITIAL_S,
    ) -> None:
        self.server = server
        self.url = socket_url(server)
        self.headers = headers  # called on every (re)connect: the session id may be known by then
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def connect(self) -> None:
        """The first connection: one attempt, so a wrong URL or a stopped server is reported at once."""
        try:
            await self._connect()
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ConnectionLost(f"cannot reach {self.server}: {describe(exc)}") from None

    async def reconnect(self) -> None:
        """A new socket after a drop, with exponential backoff; ConnectionLost when every attempt failed."""
        await self.close()
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                await self._connect()
            except (OSError, WebSocketException, TimeoutError) as exc:
                if attempt == self.attempts:
                    raise ConnectionLost(
                        f"lost the connection to {self.server} and could not reconnect "
                        f"({self.attempts} attempts): {describe(exc)}"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            else:
                self.reconnects += 1
                return

    async def send(self, payload: dict[str, Any]) -> bool:
        """False when the socket is gone (the caller reconnects and decides what to send again)."""
        if self._ws is None or not self.open:
            return False
        try:
            await self._ws.send(json.dumps(payload))
        except ConnectionClosed:
            return False
        return True

    async def frame(self) -> dict[str, Any] | None:
        """The next frame other than PING; None once the socket has dropped."""
        frame = await self._frames.get()
        if frame is None:
            self._frames.put_nowait(None)  # stays dropped for every later call, until a reconnect
        return frame

    async def close(self) -> None:
        ws, reader = self._ws, self._reader
        self._ws = self._reader = None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _connect(self) -> None:
        ws = await connect(
            self.url, additional_headers=self.headers(), max_size=MAX_FRAME_BYTES, open_timeout=OPEN_TIMEOUT_S
        )
        self._ws = ws
        self._frames = asyncio.Queue()  # frames of an old socket never mix with the new one's
        self._reader = asyncio.create_task(self._read(ws, self._frames))

    @staticmethod
    async def _read(ws: ClientConnection, frames: asyncio.Queue[dict[str, Any] | None]) -> None:
        try:
            async for message in ws:
                try:
                    frame = json.loads(message)
                except ValueError:
                    continue
                if isinstance(frame, dict) and (frame.get("data") or {}).get("type") != "PING":
                    frames.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            frames.put_nowait(None)
