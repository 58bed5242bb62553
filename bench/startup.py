"""Start-up time and request overhead of `adjutant serve` on its embedded stack.

Measures, on a fresh temporary data dir: time until /ping answers on first start (initdb, database,
migrations) and on restart; then throughput and latency for /ping, the bootstrap config route and an
authenticated route (token lookup in PostgreSQL), and the resident memory of the service and its embedded
servers. Prints the figures; asserts nothing.

Load comes from `wrk` when it is installed (Debian package `wrk`): a Python client on the same two cores
saturates long before the server does, so without wrk the figures are the client's limit, not ours.

    uv run python bench/startup.py [--seconds 5] [--concurrency 32] [--workers 1]
    uv run python bench/startup.py --cli-only [--runs 10] [--bytecode]

Also times the command line (wall, median of several runs, while the service keeps the embedded stack
up): `adjutant --help`, and `adjutant search` on a one-file index, hybrid (embeds the query) and full-text.
With --cli-only it times just those, with the embedded PostgreSQL held up by this script instead of a
service (what `adjutant search` meets when `adjutant serve` runs beside it). Python's bytecode cache
weighs more than anything else in these figures: the command line runs without it when
PYTHONDONTWRITEBYTECODE is set (as in some development shells); --bytecode times it with a cache (kept in
the temporary directory), as an installed deployment runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.runtime.processes import free_port  # noqa: E402

HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0"}


def cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        **kwargs,
    )


def start(data_dir: Path, port: int, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    began = time.perf_counter()
    process = subprocess.Popen(
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
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=0.5).status_code == 200:
                return process, time.perf_counter() - began
        except httpx.HTTPError:
            time.sleep(0.05)
        if process.poll() is not None:
            raise SystemExit("serve exited during start-up")


def stop(process: subprocess.Popen) -> float:
    began = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    return time.perf_counter() - began


async def load(url: str, total: int, concurrency: int, headers: dict[str, str], params: dict[str, str] | None) -> dict:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in queue:
            began = time.perf_counter()
            response = await client.get(url, headers=headers, params=params)
            latencies.append(time.perf_counter() - began)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def wrk(url: str, seconds: int, concurrency: int, headers: dict[str, str], params: dict[str, str] | None) -> dict:
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    argv = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def rss_mb(process: subprocess.Popen, data_dir: Path) -> tuple[float, float]:
    service = psutil.Process(process.pid)
    own = sum(p.memory_info().rss for p in [service, *service.children(recursive=True)])
    embedded = 0
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if (proc.info["name"] == "postgres" and str(data_dir) in cmd) or (
                "redis-server" in (proc.info["name"] or "") and proc.info["cwd"] == str(data_dir / "redis")
            ):
                embedded += proc.memory_info().rss
        except psutil.Error:
            continue
    return own / 2**20, embedded / 2**20


def wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of `adjutant ARGV`, from process start to exit, after one untimed run."""
    cli(argv, env)  # fills the bytecode cache (when there is one) and the page cache
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        cli(argv, env)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def cli_times(data_dir: Path, env: dict[str, str], runs: int = 5) -> None:
    source = data_dir.parent / "tiny-repo"
    source.mkdir(exist_ok=True)
    (source / "greeting.py").write_text('def greet(name):\n    """Say hello."""\n    return f"hello {name}"\n')
    cli(["index", str(source), "--team", "bench", "--data-dir", str(data_dir)], env)
    search = ["search", "greet", "--team", "bench", "--data-dir", str(data_dir)]
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if env.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(
        f"command line (median of {runs}, bytecode cache {bytecode}): adjutant --help {wall(['--help'], env, runs):.2f} s, "
        f"adjutant search {wall(search, env, runs):.2f} s (hybrid), "
        f"{wall([*search, '--mode', 'fts'], env, runs):.2f} s (full-text)"
    )


def cli_only(env: dict[str, str], data_dir: Path, runs: int) -> None:
    """Time the command line alone; this process holds the embedded PostgreSQL so no command starts it."""
    from app.runtime.config_loader import load_settings
    from app.runtime.stack import backing_services

    os.environ.update(env)
    settings = load_settings(overrides={("server", "data_dir"): str(data_dir)})
    with backing_services(settings, need_redis=False):
        cli(["migrate", "--data-dir", str(data_dir)], env)
        cli_times(data_dir, env, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration per route with wrk")
    parser.add_argument("--requests", type=int, default=3000, help="requests per route without wrk")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cli-only", action="store_true", help="time only the command line; start no service")
    parser.add_argument("--runs", type=int, default=5, help="runs per command line timing (median)")
    parser.add_argument("--bytecode", action="store_true", help="time the command line with a bytecode cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="adjutant-bench-") as tmp:
        Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        data_dir = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(ADJUTANT_LOGGING__LEVEL="WARNING", XDG_DATA_HOME=str(Path(tmp) / "xdg"))
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        if args.cli_only:
            cli_only(env, data_dir, args.runs)
            return
        port = free_port()

        process, cold = start(data_dir, port, args.workers, env)
        token = cli(
            ["token", "create", "--email", "bench@example.com", "--team", "bench", "--data-dir", str(data_dir)], env
        ).stdout.strip()
        first_stop = stop(process)
        process, warm = start(data_dir, port, args.workers, env)
        print(
            f"start-up: first start {cold:.2f} s (initdb + migrations), restart {warm:.2f} s, "
            f"shutdown {first_stop:.2f} s"
        )

        base = f"http://127.0.0.1:{port}"
        cases = [
            ("GET /ping", f"{base}/ping", {}, None),
            (
                "GET get-essential-configs",
                f"{base}/end_user/v1/configs/get-essential-configs",
                HEADERS,
                {"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
            ),
            (
                "GET get-configs (bearer)",
                f"{base}/end_user/v1/configs/get-configs",
                {**HEADERS, "Authorization": f"Bearer {token}"},
                {"consumer": "BINARY"},
            ),
        ]
        use_wrk = shutil.which("wrk") is not None
        driver = (
            f"wrk, {args.seconds} s per route"
            if use_wrk
            else f"httpx, {args.requests} requests per route (client-bound)"
        )
        print(f"load: {driver}, concurrency {args.concurrency}, {args.workers} worker(s)")
        for name, url, headers, params in cases:
            asyncio.run(load(url, 200, args.concurrency, headers, params))  # warm-up
            if use_wrk:
                result = wrk(url, args.seconds, args.concurrency, headers, params)
            else:
                result = asyncio.run(load(url, args.requests, args.concurrency, headers, params))
            print(
                f"  {name:<28} {result['rps']:8.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
                f"p99 {result['p99_ms']:6.2f} ms   errors {result['errors']}"
            )
        cli_times(data_dir, env, args.runs)
        service_mb, embedded_mb = rss_mb(process, data_dir)
        print(f"memory: service {service_mb:.0f} MiB RSS, embedded PostgreSQL + Redis {embedded_mb:.0f} MiB RSS")
        stop(process)


if __name__ == "__main__":
    main()
