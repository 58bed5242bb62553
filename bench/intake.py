"""What one new chat costs the server: CPU, PostgreSQL and Redis round trips, and the time from the query
frame to the first TEXT_DELTA over calling the same instant scripted model directly.

The service runs in this process, on its own thread and event loop, on embedded PostgreSQL and Redis in a
temporary data dir; the WebSocket client runs in a child process. Each chat opens a socket (the upgrade
authenticates the token), sends a new query, reads to `STREAM_END_CLOSE_CONNECTION` and closes. Counters
are real: every asyncpg query (reset queries on pool release included) goes through a query logger
installed on each pool connection, and every Redis round trip (a command or a whole pipeline) through a
wrapper around redis-py's `send_packed_command`. CPU is the server thread's own clock.

    uv run python bench/intake.py [--chats 200] [--deltas 4] [--events-apart-ms 0] [--show-sql]
        [--profile 40 [--profile-sort cumtime] [--profile-filter /app/]]

`--events-apart-ms 25` spaces the model's deltas like a real model, to show Redis writes per step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

HEADERS = {"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "X-Session-Type": "VSCODE_EXT_SESSION"}
SOCKET = "/end_user/v2/code-gen/generate-code-ws"


class RoundTrips:
    """Counts database queries (by text) and Redis round trips while `counting` is set."""

    def __init__(self) -> None:
        self.counting = False
        self.sql: Counter[str] = Counter()
        self.redis = 0
        self.redis_commands: Counter[str] = Counter()

    def install(self) -> None:
        import redis.asyncio.connection as redis_connection

        import app.db.connection as db_connection

        original_init = db_connection.register_vector_codec

        async def init(conn: Any) -> None:
            await original_init(conn)
            conn.add_query_logger(self._on_query)

        db_connection.register_vector_codec = init
        send = redis_connection.AbstractConnection.send_packed_command

        async def counted_send(connection: Any, command: Any, check_health: bool = True) -> None:
            if self.counting:
                self.redis += 1
                packed = b"".join(command) if isinstance(command, list) else command
                self.redis_commands[packed.split(b"\r\n")[2].decode(errors="replace").upper()] += 1
            await send(connection, command, check_health)

        redis_connection.AbstractConnection.send_packed_command = counted_send

    def _on_query(self, record: Any) -> None:
        if self.counting:
            self.sql[" ".join(record.query.split())[:90]] += 1


class ServerThread:
    """The real Sanic service on a loopback port, on its own thread and event loop."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.base_url = ""
        self.server: Any = None
        self.app: Any = None

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(120):
            raise RuntimeError("the service did not start")

    def cpu_s(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server's thread so far."""

        async def usage() -> tuple[float, float]:
            used = resource.getrusage(resource.RUSAGE_THREAD)
            return used.ru_utime, used.ru_stime

        return self.call(usage())

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        from app.api.app import create_app

        self.app = create_app(self.settings)
        self.app.config.OAS = False
        self.app.config.TOUCHUP = False
        listener = socket.create_server(("127.0.0.1", 0))
        self.server = await self.app.create_server(sock=listener, return_asyncio_server=True, access_log=False)
        await self.server.startup()
        await self.server.before_start()
        await self.server.after_start()
        self.base_url = f"http://127.0.0.1:{self.server.server.sockets[0].getsockname()[1]}"

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def stop(self) -> None:
        async def stop() -> None:
            await self.server.before_stop()
            self.server.close()
            await self.server.wait_closed()
            await self.server.after_stop()

        with contextlib.suppress(Exception):
            self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


async def one_chat(url: str, token: str) -> float:
    """Seconds from sending the query frame to the first TEXT_DELTA; reads to the end of the answer."""
    async with connect(url, additional_headers={**HEADERS, "Authorization": f"Bearer {token}"}) as ws:
        sent = time.perf_counter()
        await ws.send(json.dumps({"query": "hello"}))
        first = None
        while True:
            frame = json.loads(await ws.recv())
            kind = frame.get("data", {}).get("type")
            if kind == "TEXT_DELTA" and first is None:
                first = time.perf_counter() - sent
            if kind in ("STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"):
                if kind == "STREAM_ERROR" or first is None:
                    raise RuntimeError(f"the chat failed: {frame}")
                return first


async def direct_first_delta(script: Path) -> float:
    """Median time to the first text delta when the scripted provider is called in-process (the baseline)."""
    from app.llm.router import LLMRouter
    from app.llm.types import TextDelta
    from app.runtime.settings import ModelRoute
    from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec, standard_request

    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("s", ModelRoute(provider="scripted", script_path=str(script))))
    router = LLMRouter(registry, pool_for(keys), router_policy())
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        async for event in router.stream(standard_request("s")):
            if isinstance(event, TextDelta):
                samples.append(time.perf_counter() - started)
                break
    return statistics.median(samples)


def settings_for(work: Path, database_url: str, redis_url: str, deltas: int, apart_ms: int) -> tuple[Any, Path]:
    from app.runtime.config_loader import load_settings

    script = work / "script.json"
    response = {"text": "word " * deltas, "chunk_chars": 5, "delay_ms": apart_ms}
    script.write_text(json.dumps({"mode": "repeat", "responses": [response]}))
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
    environ = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ADJUTANT_LOGGING__LEVEL": "WARNING",
        "ADJUTANT_LLM__MODELS": json.dumps(models),
        "ADJUTANT_LLM__DEFAULT_MODEL": "scripted",
        "ADJUTANT_LLM__CODE_GEN_MODELS": '["scripted"]',
        "ADJUTANT_CHAT__SUMMARY_MODEL": "helper",
        # The embedded job worker polls Redis on its own clock: not a cost of any chat.
        "ADJUTANT_JOBS__EMBEDDED_WORKER": "false",
    } | {k: v for k, v in os.environ.items() if k.startswith("ADJUTANT_")}  # yours win: try other settings
    return load_settings(environ=environ, include_config_file=False), script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--deltas", type=int, default=4, help="text deltas per answer")
    parser.add_argument("--events-apart-ms", type=int, default=0)
    parser.add_argument("--show-sql", action="store_true", help="print the queries of one chat by count")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the server's N costliest functions")
    parser.add_argument("--profile-sort", default="tottime", help="pstats order: tottime or cumtime")
    parser.add_argument("--profile-filter", default="", help="only functions whose path matches, e.g. /app/")
    parser.add_argument("--client", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # the client side: N chats one after another, the token on stdin
        url, count = args.client[0], int(args.client[1])
        token = sys.stdin.read().strip()

        async def run() -> list[float]:
            return [await one_chat(url, token) for _ in range(count)]

        print(json.dumps(asyncio.run(run())))
        return

    from app.cli.database import prepare_database
    from app.runtime.config_loader import load_settings
    from app.runtime.stack import backing_services

    counters = RoundTrips()
    counters.install()
    with tempfile.TemporaryDirectory(prefix="adjutant-intake-") as tmp:
        work = Path(tmp)
        work.chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        base = load_settings(
            environ={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            include_config_file=False,
            overrides={("server", "data_dir"): str(work / "data")},
        )
        with backing_services(base) as stack:
            asyncio.run(prepare_database(stack.database_url))
            settings, script = settings_for(
                work, stack.database_url, stack.redis_url, args.deltas, args.events_apart_ms
            )
            server = ServerThread(settings)
            server.start()
            try:
                profiler = None
                raw, _ = server.call(server.app.ctx.tokens.issue(email="bench@example.com", team="bench"))
                url = server.base_url.replace("http://", "ws://") + SOCKET
                baseline = asyncio.run(direct_first_delta(script))

                def chats(count: int) -> list[float]:
                    # A separate process, so the client neither shares the server's GIL nor its profile.
                    done = subprocess.run(
                        [sys.executable, __file__, "--client", url, str(count)],
                        input=raw,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    return json.loads(done.stdout)

                chats(20)  # warm-up: statement caches, pool connections, imports
                time.sleep(0.5)
                # CPU time of this thread, not wall time: waits on sockets and locks do not count.
                profiler = cProfile.Profile(time.thread_time) if args.profile else None
                if profiler is not None:
                    server.loop.call_soon_threadsafe(profiler.enable)
                counters.counting = True
                cpu = server.cpu_s()
                firsts = chats(args.chats)
                time.sleep(0.5)  # summaries and other work after the answer belong to the chat too
                cpu = tuple(after - before for after, before in zip(server.cpu_s(), cpu, strict=True))
                counters.counting = False
                if profiler is not None:
                    server.loop.call_soon_threadsafe(profiler.disable)
                    time.sleep(0.1)
            finally:
                server.stop()
    n = args.chats
    queries = sum(counters.sql.values())
    resets = sum(count for text, count in counters.sql.items() if "pg_advisory_unlock_all" in text)
    print(
        f"{n} new chats, {args.deltas} deltas each, {args.events_apart_ms} ms apart; "
        f"direct first delta {baseline * 1000:.2f} ms"
    )
    print(
        f"server CPU per chat        {sum(cpu) / n * 1000:6.2f} ms   "
        f"(user {cpu[0] / n * 1000:.2f} ms, kernel {cpu[1] / n * 1000:.2f} ms: sockets to the client, PostgreSQL, Redis)"
    )
    print(f"database round trips/chat  {queries / n:6.1f}   (of them pool resets {resets / n:.1f})")
    print(f"Redis round trips/chat     {counters.redis / n:6.1f}")
    firsts.sort()
    print(
        f"query -> first TEXT_DELTA  p50 {statistics.median(firsts) * 1000:.2f} ms, "
        f"p90 {firsts[int(n * 0.9)] * 1000:.2f} ms; added p50 {(statistics.median(firsts) - baseline) * 1000:.2f} ms"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(args.profile_filter, args.profile)
    if args.show_sql:
        for text, count in counters.sql.most_common():
            print(f"  {count / n:5.1f}  {text}")
        for name, count in counters.redis_commands.most_common():
            print(f"  {count / n:5.1f}  Redis round trips starting with {name}")


if __name__ == "__main__":
    main()
