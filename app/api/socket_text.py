"""Text frames that are not UTF-8 get an answer (docs/protocol.md §5.1: a non-JSON text frame is INVALID_REQUEST
and the socket stays open).

Sanic's frame assembler decodes text strictly inside a background task: a message that is not UTF-8 raises
there and vanishes, and the client waits for an answer that never comes. `Utf8CheckedAssembler` sits in front
of it, checks each text message whole, and hands on a stand-in that only this connection can recognise.
"""

from __future__ import annotations

import codecs
import secrets
from typing import Any

from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.frames import Frame, Opcode

_Utf8 = codecs.getincrementaldecoder("utf-8")


class Utf8CheckedAssembler:
    """Wraps a socket's frame assembler; every other attribute is the wrapped one's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        # Unguessable, so no client can send the stand-in on purpose.
        self.stand_in = f"\x01not-utf-8:{secrets.token_hex(16)}"
        self._frames: list[Frame] | None = None  # the text message being collected
        self._decoder: codecs.IncrementalDecoder | None = None
        self._valid = True

    @classmethod
    def install(cls, ws: WebsocketImplProtocol) -> Utf8CheckedAssembler:
        """Put a checker in front of `ws`'s assembler (before the first recv, so no frame slips past)."""
        checker = cls(ws.assembler)
        ws.assembler = checker  # type: ignore[assignment]
        return checker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def put(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT:
            self._frames, self._decoder, self._valid = [], _Utf8(errors="strict"), True
        elif frame.opcode is not Opcode.CONT or self._frames is None:
            await self.inner.put(frame)  # binary messages and control frames pass as they are
            return
        assert self._decoder is not None
        if self._valid:
            try:
                self._decoder.decode(frame.data, frame.fin)
            except UnicodeDecodeError:
                self._valid = False
        self._frames.append(frame)
        if not frame.fin:
            return  # a fragmented message is handed on whole, once it is known to be UTF-8 or not
        frames, valid = self._frames, self._valid
        self._frames = self._decoder = None
        if not valid:
            frames = [Frame(Opcode.TEXT, self.stand_in.encode(), fin=True)]
        for part in frames:
            await self.inner.put(part)

    def is_stand_in(self, message: str | bytes) -> bool:
        """Whether `message` (as recv returned it) stands for a text message that was not UTF-8."""
        return message == self.stand_in
