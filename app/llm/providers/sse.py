"""Reading a provider's server-sent events straight off the HTTP stream.

The SDKs still build, authenticate and send the request and raise their typed status errors; what they
would do per event (a decoder object per line, then a typed model per chunk) is most of the cost of a
stream, so adapters read the body here and translate the decoded JSON themselves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson

DRAIN_TIMEOUT_S = 0.1  # after a stream's terminator, how long to wait for the body's end (connection reuse)

Event = tuple[str | None, str]  # (event name or None, data)


class SSEDecoder:
    """Splits bytes into events by the WHATWG rules the SDKs follow: CR, LF or CRLF line ends, a blank line
    ends an event, `data` lines are joined by newlines, comments and `id`/`retry` are ignored."""

    def __init__(self) -> None:
        self._tail = b""
        self._skip_lf = False  # the last read ended in CR: an LF opening this one belongs to it

    def feed(self, chunk: bytes) -> list[Event]:
        if self._skip_lf:
            self._skip_lf = False
            chunk = chunk[1:] if chunk.startswith(b"\n") else chunk
        buffer = self._tail + chunk if self._tail else chunk
        if b"\r" in buffer:
            self._skip_lf = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = buffer.split(b"\n\n")
        self._tail = blocks.pop()
        events: list[Event] = []
        for block in blocks:
            # The shapes every provider sends, without a per-line loop.
            if block.startswith(b"data: ") and b"\n" not in block:
                events.append((None, block[6:].decode()))
                continue
            if block.startswith(b"event: ") and block.count(b"\n") == 1:
                name, _, data = block.partition(b"\n")
                if data.startswith(b"data: "):
                    events.append((name[7:].decode() or None, data[6:].decode()))
                    continue
            decoded = _decode_block(block)
            if decoded is not None:
                events.append(decoded)
        return events


def _decode_block(block: bytes) -> Event | None:
    name: str | None = None
    data: list[str] = []
    for line in block.decode().split("\n"):
        if not line or line.startswith(":"):
            continue  # a leading empty line (three line ends in a row) ends an empty event: nothing
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value or None
        elif field == "data":
            data.append(value)
    if name is None and not data:
        return None
    return name, "\n".join(data)


async def events(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[tuple[str | None, Any]]]:
    """Batches of (event name, decoded JSON data) per network read. Empty data is None, `[DONE]` stays the
    string, and the data of an `error` event that is not JSON stays text (providers put messages there)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        batch = [(name, _data(name, data)) for name, data in decoder.feed(chunk)]
        if batch:
            yield batch


def _data(name: str | None, data: str) -> Any:
    if not data:
        return None
    if data.startswith("[DONE]"):
        return data
    try:
        return orjson.loads(data)  # the same values as json.loads, in a third of the time
    except json.JSONDecodeError:  # orjson's error is a subclass
        if name == "error":
            return data
        raise


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what is left of a finished stream for a short while, so HTTP/1.1 can reuse the connection."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            async for _ in chunks:
                pass
    except (TimeoutError, Exception):  # noqa: BLE001 - cleanup must not turn completed output into an error
        return
