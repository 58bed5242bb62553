"""Concurrent chats: N WebSocket clients each start a chat against one `adjutant serve` (embedded PostgreSQL
and Redis in a temporary data dir) whose scripted model emits text at a fixed rate. Prints, per N: the
time to the first text delta and what the server adds to it over calling the scripted provider directly,
p50/p99 delay between consecutive deltas, delivered events per second, errors, and the server's RSS.

    uv run python bench/streams.py [--clients 100 500 1000] [--chunks 40] [--interval-ms 25] [--workers 1 2 4]
        [--soak 10000]

With several `--workers` values the levels run against a fresh server per worker count, and a last table
compares them. `--soak N` then streams N more chats (200 at a time) and prints the server's RSS before and
after: growth there is memory kept per request.

The clients run in this process on the same machine, so at high N they compete with the server for CPU:
the figures are an upper bound on the overhead a dedicated client machine would see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.runtime.processes import free_port  # noqa: E402

HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "X-Session-Type": "VSCODE_EXT_SESSION"}
SOCKET = "/end_user/v2/code-gen/generate-code-ws"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] if ordered else float("nan")


async def one_chat(url: str, token: str, timeout: float) -> dict:
    result = {"ttfe": None, "gaps": [], "events": 0, "error": None}
    try:
        async with connect(
            url, additional_headers={**HEADERS, "Authorization": f"Bearer {token}"}, open_timeout=60, max_size=2**24
        ) as ws:
            started = time.perf_counter()
            await ws.send(json.dumps({"query": "stream please"}))
            last = None
            async with asyncio.timeout(timeout):
                while True:
                    frame = json.loads(await ws.recv())
                    kind = frame.get("data", {}).get("type")
                    now = time.perf_counter()
                    if "message_id" in frame:
                        result["events"] += 1
                    if kind == "TEXT_DELTA":
                        if result["ttfe"] is None:
                            result["ttfe"] = now - started
                        elif last is not None:
                            result["gaps"].append(now - last)
                        last = now
                    if kind in ("STREAM_END_CLOSE_CONNECTION", "STREAM_END"):
                        return result
                    if kind == "STREAM_ERROR":
                        result["error"] = frame["data"].get("status")
                        return result
    except Exception as exc:  # noqa: BLE001 - counted, not raised
        result["error"] = exc.__class__.__name__
    return result


async def direct_first_event(script: Path) -> float:
    """Time to the first text delta when the scripted provider is called in-process (the baseline)."""
    from app.llm.router import LLMRouter
    from app.llm.types import TextDelta
    from app.runtime.settings import ModelRoute
    from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec, standard_request

    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("s", ModelRoute(provider="scripted", script_path=str(script))))
    router = LLMRouter(registry, pool_for(keys), router_policy())
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        async for event in router.stream(standard_request("s")):
            if isinstance(event, TextDelta):
                samples.append(time.perf_counter() - started)
                break
    return statistics.median(samples)


def server_rss(process: subprocess.Popen) -> float:
    root = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


async def run_level(base: str, token: str, clients: int, timeout: float) -> dict:
    url = base.replace("http://", "ws://") + SOCKET
    started = time.perf_counter()
    results = await asyncio.gather(*(one_chat(url, token, timeout) for _ in range(clients)))
    wall = time.perf_counter() - started
    ok = [r for r in results if r["error"] is None and r["ttfe"] is not None]
    gaps = [g for r in ok for g in r["gaps"]]
    errors: dict[str, int] = {}
    for r in results:
        if r["error"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    return {
        "ttfe": [r["ttfe"] for r in ok],
        "gaps": gaps,
        "events": sum(r["events"] for r in results),
        "wall": wall,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--interval-ms", type=int, default=25)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--soak", type=int, default=0, help="chats streamed after the levels, to watch RSS")
    parser.add_argument("--server-log", help="append the server's warnings and errors to this file")
    args = parser.parse_args()
    scaling = {workers: run_deployment(args, workers) for workers in args.workers}
    if len(scaling) > 1:
        print("\nscaling (first delta p50 / gap p99 / delivered events/s)")
        for clients in args.clients:
            cells = []
            for workers, levels in scaling.items():
                level = levels[clients]
                cells.append(
                    f"{workers}w {percentile(level['ttfe'], 0.5) * 1000:.0f}ms/"
                    f"{percentile(level['gaps'], 0.99) * 1000:.0f}ms/{level['events'] / level['wall']:.0f}"
                )
            print(f"{clients:>6} chats: " + "   ".join(cells))


def run_deployment(args: argparse.Namespace, workers: int) -> dict[int, dict]:
    """One server with `workers` workers on a fresh embedded stack: every level, then the soak."""
    results: dict[int, dict] = {}

    with tempfile.TemporaryDirectory(prefix="adjutant-streams-") as tmp:
        Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        work = Path(tmp)
        script = work / "script.json"
        script.write_text(
            json.dumps(
                {
                    "mode": "repeat",
                    "responses": [{"text": "x" * (args.chunks * 4), "chunk_chars": 4, "delay_ms": args.interval_ms}],
                }
            )
        )
        helper = work / "helper.json"
        helper.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "Title"}]}))
        models = [
            {
                "id": 1,
                "name": "scripted",
                "display_name": "S",
                "input_token_limit": 100000,
                "output_token_limit": 4000,
                "routes": [{"provider": "scripted", "script_path": str(script)}],
            },
            {
                "id": 2,
                "name": "helper",
                "display_name": "H",
                "input_token_limit": 100000,
                "output_token_limit": 100,
                "routes": [{"provider": "scripted", "script_path": str(helper)}],
            },
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            {
                "XDG_DATA_HOME": str(work / "xdg"),
                "ADJUTANT_LOGGING__LEVEL": "WARNING",
                "ADJUTANT_LLM__MODELS": json.dumps(models),
                "ADJUTANT_LLM__DEFAULT_MODEL": "scripted",
                "ADJUTANT_LLM__CODE_GEN_MODELS": '["scripted"]',
                "ADJUTANT_CHAT__SUMMARY_MODEL": "helper",
                "ADJUTANT_DATABASE__POOL_MAX": "20",
            }
        )
        data_dir = work / "data"
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "token",
                "create",
                "--email",
                "bench@example.com",
                "--team",
                "bench",
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(args.server_log, "a") if args.server_log else subprocess.DEVNULL,  # noqa: SIM115
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300  # a busy machine imports slowly
            while True:
                try:
                    if httpx.get(base + "/ping", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("adjutant serve did not start")
            baseline = asyncio.run(direct_first_event(script))
            stream_s = args.chunks * args.interval_ms / 1000
            print(
                f"scripted model: {args.chunks} deltas at {args.interval_ms} ms ({stream_s:.1f} s per chat); "
                f"direct first delta after {baseline * 1000:.1f} ms; {workers} worker(s)"
            )
            print(
                f"{'chats':>6} {'TTFE p50':>9} {'p99':>8} {'added p50':>10} {'gap p50':>8} {'gap p99':>8} "
                f"{'events/s':>9} {'errors':>7} {'server RSS':>11}"
            )
            asyncio.run(run_level(base, token, 10, 60))  # warm-up
            for clients in args.clients:
                level = asyncio.run(run_level(base, token, clients, timeout=stream_s * 20 + 60))
                results[clients] = level
                ttfe = level["ttfe"]
                errors = sum(level["errors"].values())
                print(
                    f"{clients:>6} {percentile(ttfe, 0.5) * 1000:>7.0f}ms {percentile(ttfe, 0.99) * 1000:>6.0f}ms "
                    f"{(percentile(ttfe, 0.5) - baseline) * 1000:>8.0f}ms "
                    f"{percentile(level['gaps'], 0.5) * 1000:>6.1f}ms {percentile(level['gaps'], 0.99) * 1000:>6.1f}ms "
                    f"{level['events'] / level['wall']:>9.0f} {errors:>7} {server_rss(server):>9.0f}MiB"
                    + (f"  {level['errors']}" if errors else "")
                )
            if args.soak:
                soak(base, token, args.soak, server, timeout=stream_s * 20 + 60)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    return results


def soak(base: str, token: str, requests: int, server: subprocess.Popen, *, timeout: float) -> None:
    """Stream `requests` chats, 200 at a time, and compare the server's RSS after the first wave and at the end."""
    wave = 200
    done = errors = 0
    before = None
    while done < requests:
        level = asyncio.run(run_level(base, token, min(wave, requests - done), timeout))
        done += min(wave, requests - done)
        errors += sum(level["errors"].values())
        if before is None:
            before = server_rss(server)  # after one wave: pools, caches and imports are warm
    after = server_rss(server)
    print(
        f"soak: {done} streamed chats, {errors} errors; server RSS {before:.0f} -> {after:.0f} MiB "
        f"({(after - before) / before * 100:+.1f} %)"
    )


if __name__ == "__main__":
    main()
