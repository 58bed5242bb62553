"""The server-sent-event decoder the adapters read provider streams with: the events the SDKs' own decoders
would see, however the bytes are split across network reads."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from openai._streaming import SSEDecoder as SDKDecoder

from app.llm.providers import sse

STREAMS = [
    b'data: {"a": 1}\n\ndata: {"b": 2}\n\n',
    b'event: message_start\ndata: {"type": "message_start"}\n\nevent: ping\ndata: {}\n\n',
    b'data: {"a": 1}\r\n\r\nevent: x\r\ndata: {"b": 2}\r\n\r\n',  # CRLF
    b'data: {"a": 1}\r\rdata: {"b": 2}\r\r',  # bare CR
    b": keep-alive comment\n\ndata: {}\n\n",
    b'data: {"multi":\ndata: "line"}\n\n',  # data lines joined with a newline
    b'data:{"no": "space"}\n\nevent:e\ndata:{"x": 1}\n\n',
    b'id: 7\nretry: 10\ndata: {"with": "id"}\n\n\n\n\ndata: {"after": "blank lines"}\n\n',
    b"event: error\ndata: not json at all\n\ndata: [DONE]\n\n",
    b'data: {"t": "\xc3\xa9\xe2\x9c\x93"}\n\n',  # UTF-8 split across reads below
    b'data: {"incomplete": true}',  # no blank line: never dispatched
]


def sdk_events(stream: bytes) -> list[tuple[str | None, str]]:
    decoder = SDKDecoder()
    return [(e.event, e.data) for e in decoder.iter_bytes(iter([stream])) if e.event or e.data]


def ours(pieces: list[bytes]) -> list[tuple[str | None, str]]:
    decoder = sse.SSEDecoder()
    return [event for piece in pieces for event in decoder.feed(piece)]


def splits(stream: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), k=min(len(stream) - 1, rng.randint(1, 8))))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@pytest.mark.parametrize("stream", STREAMS)
def test_events_match_the_sdk_decoder_however_the_bytes_are_split(stream):
    expected = sdk_events(stream)
    assert ours([stream]) == expected
    assert ours([stream[i : i + 1] for i in range(len(stream))]) == expected  # one byte per read
    for seed in range(20):
        assert ours(splits(stream, seed)) == expected, seed


def test_batches_decode_json_keep_done_and_plain_error_text():
    async def chunks():
        yield b'event: a\ndata: {"n": 1}\n\ndata: {"n": 2}\n\nevent: error\ndata: Overloaded\n\n'
        yield b"data: \n\ndata: [DONE]\n\n"

    async def collect():
        return [batch async for batch in sse.events(chunks())]

    batches = asyncio.run(collect())
    assert batches == [[("a", {"n": 1}), (None, {"n": 2}), ("error", "Overloaded")], [(None, None), (None, "[DONE]")]]


def test_data_that_is_not_json_outside_an_error_event_raises():
    async def chunks():
        yield b"data: {broken\n\n"

    async def collect():
        return [batch async for batch in sse.events(chunks())]

    with pytest.raises(json.JSONDecodeError):  # the adapters classify it as a provider error
        asyncio.run(collect())
