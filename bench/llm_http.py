"""End to end over HTTP: one `adjutant serve` (embedded PostgreSQL and Redis in a temporary data dir) whose
OpenAI-compatible route points at a loopback upstream speaking Chat Completions SSE, against a client that
reads the same upstream directly. The same reader (split the SSE, JSON-decode every event) is used on both
sides, in alternating runs. Prints:

- events/s of one zero-delay stream, direct and through `POST /v1/llm/stream`, and their ratio;
- time to the first text event, p50 of alternating runs, direct and through the server (the added TTFT);
- per-event transit: the upstream stamps each event with its send time; p50 arrival minus stamp, both ways;
- the server's CPU time per streamed event and per one-event request. On a loaded machine latencies include
  waiting for a CPU (three processes take turns per event); the CPU figures do not.

    uv run python bench/llm_http.py [--events 20000] [--runs 5] [--ttft-runs 100] [--paced 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.runtime.processes import free_port  # noqa: E402

PACE_S = 0.002


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Upstream:
    """Chat Completions by model name: `burst-N` sends N deltas in one write; `paced-N` sends N deltas
    `PACE_S` apart, each carrying `time.perf_counter()` at its send (this process's clock)."""

    def __init__(self) -> None:
        bursts: dict[int, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Small writes must leave at once, as from a real server: Nagle plus the peer's delayed ACK
                # would add ~40 ms to some first events and measure the kernel, not the relay.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                kind, _, count = str(body.get("model", "burst-1")).partition("-")
                n = int(count or 1)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if kind == "burst":
                    if n not in bursts:
                        bursts[n] = b"".join(chunk(f"tok{i} ") for i in range(n)) + chunk(None, "stop")
                    self._chunk(bursts[n] + b"data: [DONE]\n\n")
                else:
                    for _ in range(n):
                        self._chunk(chunk(repr(time.perf_counter())))
                        time.sleep(PACE_S)
                    self._chunk(chunk(None, "stop") + b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


async def read(client: httpx.AsyncClient, url: str, body: dict, headers: dict, text_of) -> tuple[float, float, list]:
    """(seconds to the first text, seconds to the end, [(arrival, text)]) reading SSE and decoding each event."""
    started = time.perf_counter()
    first = None
    texts: list[tuple[float, str]] = []
    tail = b""
    async with client.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200, response.status_code
        async for data in response.aiter_bytes():
            blocks = (tail + data).split(b"\n\n")
            tail = blocks.pop()
            now = time.perf_counter()
            for block in blocks:
                payload = block[block.index(b"data: ") + 6 :]
                if payload == b"[DONE]":
                    continue
                text = text_of(json.loads(payload))
                if text:
                    first = first or now
                    texts.append((now, text))
    return (first or time.perf_counter()) - started, time.perf_counter() - started, texts


def direct_text(event: dict) -> str | None:
    choices = event.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content")


def served_text(event: dict) -> str | None:
    return event.get("text") if event.get("kind") == "text_delta" else None


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def run(base: str, upstream: Upstream, token: str, args: argparse.Namespace, server: psutil.Process) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    message = [{"role": "user", "content": "go"}]

    def direct(model: str):
        return read(client, upstream.url + "/v1/chat/completions", {"model": model, "stream": True}, {}, direct_text)

    def served(model: str):
        return read(client, base + "/v1/llm/stream", {"model": model, "messages": message}, auth, served_text)

    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(3):  # warm-up: connections, imports, the server's caches
            await direct("burst-100")
            await served("burst-100")
        burst = f"burst-{args.events}"
        best = {"direct": float("inf"), "served": float("inf")}
        served_cpu = 0.0
        for _ in range(args.runs):
            for name, reader in (("direct", direct), ("served", served)):
                cpu = cpu_seconds(server)
                _, total, texts = await reader(burst)
                served_cpu += cpu_seconds(server) - cpu if name == "served" else 0.0
                assert len(texts) == args.events, (name, len(texts))
                best[name] = min(best[name], total)
        direct_eps, served_eps = args.events / best["direct"], args.events / best["served"]
        print(f"one zero-delay stream of {args.events} deltas, best of {args.runs}:")
        print(f"  direct {direct_eps:>9.0f} events/s   /v1/llm/stream {served_eps:>9.0f} events/s")
        print(f"  ratio 1/{direct_eps / served_eps:.1f} (target: at least 1/4)")
        print(f"  server CPU {served_cpu / (args.runs * args.events) * 1e6:.1f} µs per event")

        firsts: dict[str, list[float]] = {"direct": [], "served": []}
        served_cpu = 0.0
        for _ in range(args.ttft_runs):
            for name, reader in (("direct", direct), ("served", served)):
                cpu = cpu_seconds(server)
                firsts[name].append((await reader("burst-1"))[0])
                served_cpu += cpu_seconds(server) - cpu if name == "served" else 0.0
        d, s = statistics.median(firsts["direct"]), statistics.median(firsts["served"])
        print(
            f"time to first text, p50 of {args.ttft_runs}: direct {d * 1000:.2f} ms, /v1/llm/stream {s * 1000:.2f} ms"
        )
        print(f"  added TTFT {(s - d) * 1000:.2f} ms (target: at most 2 ms)")
        print(
            f"  server CPU {served_cpu / args.ttft_runs * 1000:.2f} ms per request (auth, routing, the SDK's request)"
        )

        transit: dict[str, list[float]] = {"direct": [], "served": []}
        for _ in range(3):
            for name, reader in (("direct", direct), ("served", served)):
                _, _, texts = await reader(f"paced-{args.paced}")
                transit[name] += [arrival - float(text) for arrival, text in texts[1:]]
        d, s = statistics.median(transit["direct"]), statistics.median(transit["served"])
        print(f"per-event transit, p50 of {len(transit['served'])} events {PACE_S * 1000:.0f} ms apart:")
        print(
            f"  direct {d * 1e6:.0f} µs, /v1/llm/stream {s * 1e6:.0f} µs, added {(s - d) * 1e6:.0f} µs (target: ≤ 100)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ttft-runs", type=int, default=100)
    parser.add_argument("--paced", type=int, default=300)
    args = parser.parse_args()
    upstream = Upstream()
    route = {"provider": "openai_compatible", "base_url": upstream.url + "/v1"}
    models = [
        {
            "id": i + 1,
            "name": name,
            "display_name": name,
            "input_token_limit": 100000,
            "output_token_limit": 4000,
            "routes": [{**route, "model": name}],
        }
        for i, name in enumerate(["burst-1", "burst-100", f"burst-{args.events}", f"paced-{args.paced}"])
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            {
                "XDG_DATA_HOME": str(work / "xdg"),
                "ADJUTANT_LOGGING__LEVEL": "WARNING",
                "ADJUTANT_LLM__MODELS": json.dumps(models),
                "ADJUTANT_LLM__DEFAULT_MODEL": "burst-1",
                "ADJUTANT_LLM__CODE_GEN_MODELS": json.dumps([m["name"] for m in models]),
            }
        )
        data_dir = str(work / "data")
        cli = [sys.executable, "-m", "app.cli.main"]
        token = subprocess.run(
            [*cli, "token", "create", "--email", "bench@example.com", "--team", "bench", "--data-dir", data_dir],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = free_port()
        log = (work / "server.log").open("w")
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--workers", "1", "--data-dir", data_dir],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/ping", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                sys.exit("the server did not start:\n" + (work / "server.log").read_text()[-3000:])
            asyncio.run(run(base, upstream, token, args, psutil.Process(server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
