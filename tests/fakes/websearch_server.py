"""Loopback fakes of the web search providers, speaking their real JSON formats.

`FakeSearxng` answers `GET /search?q=...&format=json` like a SearXNG instance (403 when the json format is
not enabled, as SearXNG does). `FakeBrave` answers `GET /res/v1/web/search?q=...&count=N` like the Brave
Search API, checking `X-Subscription-Token` and answering Brave's `ErrorResponse` when it is wrong. Both
record every request and can be told to fail (`status`) or to hang (`delay_s`).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Page:
    title: str
    url: str
    text: str


@dataclass
class _FakeSearch:
    pages: list[Page] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    status: int | None = None  # answer every request with this error status
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(Seen(url.path, params, {k.lower(): v for k, v in self.headers.items()}))
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                status, body, headers = fake.answer(url.path, params, {k.lower(): v for k, v in self.headers.items()})
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                if "gzip" in (self.headers.get("Accept-Encoding") or "") and isinstance(body, dict):
                    payload = gzip.compress(payload)
                    headers = {**headers, "Content-Encoding": "gzip"}
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSearxng(_FakeSearch):
    json_enabled: bool = True

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path not in ("/search", "/"):
            return 404, b"<html>Not Found</html>", {"Content-Type": "text/html"}
        if self.status is not None:
            return self.status, b"<html>Internal Server Error</html>", {"Content-Type": "text/html"}
        if params.get("format") != "json" or not self.json_enabled:
            return 403, b"<html>403 Forbidden</html>", {"Content-Type": "text/html"}
        results = [
            {
                "url": page.url,
                "title": page.title,
                "content": page.text,
                "engine": "duckduckgo",
                "parsed_url": [*urlsplit(page.url), ""],
                "template": "default.html",
                "engines": ["duckduckgo", "brave"],
                "positions": [rank],
                "score": 2.0 / rank,
                "category": "general",
                "publishedDate": None,
            }
            for rank, page in enumerate(self.pages, 1)
        ]
        body = {
            "query": params.get("q", ""),
            "number_of_results": len(results),
            "results": results,
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }
        return 200, body, {}


class FakeBrave(_FakeSearch):
    token: str = "BSA-test-token"

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path != "/res/v1/web/search":
            return 404, {"type": "ErrorResponse", "error": {"status": 404, "code": "NOT_FOUND"}}, {}
        if headers.get("x-subscription-token") != self.token:
            return (
                422,
                _brave_error(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."),
                {},
            )
        if self.status is not None:
            return self.status, _brave_error(self.status, "RATE_LIMITED", "Request rate limit exceeded for plan."), {}
        count = int(params.get("count", "20"))
        results = [
            {
                "type": "search_result",
                "title": page.title,
                "url": page.url,
                "is_source_local": False,
                "is_source_both": False,
                "description": page.text,
                "language": "en",
                "family_friendly": True,
                "profile": {"name": urlsplit(page.url).hostname, "url": page.url},
                "meta_url": {"scheme": "https", "netloc": urlsplit(page.url).hostname, "path": urlsplit(page.url).path},
            }
            for page in self.pages[:count]
        ]
        body = {
            "type": "search",
            "query": {"original": params.get("q", ""), "more_results_available": False},
            "mixed": {
                "type": "mixed",
                "main": [{"type": "web", "index": i, "all": False} for i in range(len(results))],
            },
            "web": {"type": "search", "results": results, "family_friendly": True},
        }
        return 200, body, {}


def _brave_error(status: int, code: str, detail: str) -> dict[str, Any]:
    return {
        "type": "ErrorResponse",
        "error": {"id": "4f6f7e1c-0000-4000-8000-000000000000", "status": status, "code": code, "detail": detail},
        "time": int(time.time()),
    }
