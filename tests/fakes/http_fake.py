"""The skeleton every loopback fake of an integrated service shares: a threaded HTTP/1.1 server on 127.0.0.1,
routes by method and path pattern, a record of every request, and scripted faults.

A fake subclasses `FakeService` and registers routes in `routes()`; a handler gets a `FakeRequest` and
returns `(status, body, headers)` — a dict/list body is sent as JSON. Tests script faults with `fail_next`
(the next N matching requests answer that status and headers instead, e.g. a 429 with Retry-After) and
read `requests` to see what the real client sent (headers, query, body).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    match: re.Match[str] | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    path_pattern: re.Pattern[str] | None


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[FakeRequest], Answer]


class FakeService:
    """Start with `with FakeX() as fake:` (or `start()`/`stop()`); `fake.url` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []
        self._routes: list[_Route] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.routes()

    # --- for subclasses --------------------------------------------------------------------------------------

    def routes(self) -> None:
        """Register the service's routes with `route`."""

    def route(self, method: str, pattern: str, handler: Callable[[FakeRequest], Answer]) -> None:
        self._routes.append(_Route(method.upper(), re.compile(f"^{pattern}$"), handler))

    def unmatched(self, request: FakeRequest) -> Answer:
        return 404, {"message": "Not Found"}, {}

    def before(self, request: FakeRequest) -> Answer | None:
        """Runs before routing (authentication checks); an answer here ends the request."""
        return None

    # --- for tests -------------------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        with self._lock:
            self._faults.append(
                Fault(
                    status,
                    body or {"message": f"fault {status}"},
                    headers or {},
                    count,
                    re.compile(path) if path else None,
                )
            )

    def seen(self, method: str | None = None, path: str | None = None) -> list[FakeRequest]:
        pattern = re.compile(path) if path else None
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path))
        ]

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = FakeRequest(
                    self.command,
                    url.path,
                    parse_qs(url.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                fake.requests.append(request)
                status, payload, headers = fake._answer(request)
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else (
                        b""
                        if payload is None
                        else payload.encode()
                        if isinstance(payload, str)
                        else json.dumps(payload).encode()
                    )
                )
                try:
                    self.send_response(status)
                    if not any(k.lower() == "content-type" for k in headers) and data:
                        self.send_header("Content-Type", "application/json; charset=utf-8")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server names

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the loop to notice, 0.5 s per fake by default.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- internals -------------------------------------------------------------------------------------------

    def _answer(self, request: FakeRequest) -> Answer:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path_pattern is None or fault.path_pattern.search(request.path)):
                    fault.remaining -= 1
                    return fault.status, fault.body, fault.headers
        early = self.before(request)
        if early is not None:
            return early
        for route in self._routes:
            if route.method == request.method:
                match = route.pattern.match(request.path)
                if match:
                    request.match = match
                    return route.handler(request)
        return self.unmatched(request)
