"""Wire-level fakes of the LLM providers: one loopback HTTP server that answers the real endpoints of
OpenAI (Responses, Chat Completions), Anthropic (Messages) and Gemini (generateContent and
streamGenerateContent) with scripted replies, so the real SDKs can be pointed at it by base URL.

A reply is a status, headers and either a JSON body or a list of SSE events; it can pause, hang before
answering (timeouts), or drop the connection after N events (mid-stream disconnects). Streams use chunked
transfer encoding, so a dropped connection is a real protocol error to the client, as on the internet.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON body (non-streaming and errors)
    sse: list[tuple[str | None, Any]] | None = None  # (event name or None, data object or raw string)
    sse_terminator: str | None = None  # e.g. "[DONE]" for Chat Completions
    hang_s: float = 0.0  # wait before sending anything
    event_delay_s: float = 0.0
    disconnect_after: int | None = None  # drop the connection after this many SSE events
    pauses: dict[int, float] = field(default_factory=dict)  # event index -> seconds to wait before sending it
    prerendered: bytes | None = None  # a whole SSE body sent in one write (benchmarks: the server costs nothing)

    @classmethod
    def error(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=body, headers=headers or {})


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeLLMServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.abandoned = threading.Event()  # a client hung up while we were still streaming
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode(errors="replace")
                with fake.lock:
                    fake.requests.append(
                        Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = (
                        fake.replies.popleft()
                        if fake.replies
                        else Reply.error(500, {"error": {"message": "fake server: no reply queued"}})
                    )
                fake._answer(self, reply)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.hang_s:
            time.sleep(reply.hang_s)
        try:
            if reply.sse is None and reply.prerendered is None:
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                handler.send_response(reply.status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    handler.send_header(name, value)
                handler.end_headers()
                handler.wfile.write(payload)
                return
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "text/event-stream")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.send_header("Cache-Control", "no-cache")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if reply.prerendered is not None:
                _chunk(handler, reply.prerendered)
                handler.wfile.write(b"0\r\n\r\n")
                handler.wfile.flush()
                return
            for index, (event, data) in enumerate(reply.sse):
                if reply.disconnect_after is not None and index >= reply.disconnect_after:
                    handler.wfile.flush()
                    handler.close_connection = True
                    handler.connection.shutdown(2)  # abrupt: no terminating chunk
                    return
                if index in reply.pauses:
                    time.sleep(reply.pauses[index])
                text = data if isinstance(data, str) else json.dumps(data)
                frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
                _chunk(handler, frame.encode())
                if reply.event_delay_s:
                    time.sleep(reply.event_delay_s)
            if reply.sse_terminator is not None:
                _chunk(handler, f"data: {reply.sse_terminator}\n\n".encode())
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.abandoned.set()  # the client went away (cancellation tests)

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def render_sse(events: list[tuple[str | None, Any]], terminator: str | None = None) -> bytes:
    parts = [
        (f"event: {e}\n" if e else "") + f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n" for e, d in events
    ]
    if terminator is not None:
        parts.append(f"data: {terminator}\n\n")
    return "".join(parts).encode()
