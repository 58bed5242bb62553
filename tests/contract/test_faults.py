"""Faults, end to end: a server killed (-9) mid-stream with one and with two processes, PostgreSQL stopped
mid-step, Redis killed, a cancel whose pub/sub message is lost, a cancel racing a step's last events, and a
buffer that lost a step's ending. Each asserts what the client receives (an end or an error within the
configured detection time, never silence) and what history holds afterwards (nothing accepted lost,
nothing duplicated).

Liveness runs on short timers here (a 0.5 s beat, dead after 2 s) so the suite stays quick; PostgreSQL and
Redis that get stopped are dedicated ones, never the test run's shared servers.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from app.db.migrations import migrate
from app.db.provision import ensure_database
from app.runtime.embedded_postgres import EmbeddedPostgres
from app.runtime.embedded_redis import EmbeddedRedis
from tests.conftest import EmbeddedServers, reachable_temp_dir
from tests.contract.client import ReplayClient, Socket, Turn
from tests.contract.conftest import Deployment, create_database, prepare
from tests.contract.test_basic_scenarios import FINAL, session_of

HEARTBEAT_S, HEARTBEAT_TTL_S = 0.5, 2.0
FAST = {
    "ADJUTANT_CHAT__HEARTBEAT_S": str(HEARTBEAT_S),
    "ADJUTANT_CHAT__HEARTBEAT_TTL_S": str(HEARTBEAT_TTL_S),
    "ADJUTANT_CHAT__RECONCILE_INTERVAL_S": "1",
    "ADJUTANT_SERVER__GRACEFUL_SHUTDOWN_S": "1",
}
# A lost worker is noticed once its key expires and a watcher looks again: TTL + one beat, plus slack
# for a loaded two-core machine.
DETECTION_S = HEARTBEAT_TTL_S + HEARTBEAT_S + 1.5
WORDS = "".join(f"w{i:03d} " for i in range(120))
SLOW = {"text": WORDS, "chunk_chars": 5, "delay_ms": 25}  # ~3 s of deltas in one text block
LOST = ("INTERNAL_ERROR", "The server running this step stopped")


def unique_name(label: str) -> str:
    return f"faults_{label}_{os.getpid()}"


def build(workdir: Path, database_url: str, redis_url: str, label: str) -> Deployment:
    deployment = prepare(workdir, database_url, redis_url, f"flt{label}{os.getpid() % 10**5}:", **FAST)
    deployment.tokens["ada"] = deployment.issue_token("ada@example.com")
    return deployment


@pytest.fixture(scope="module")
def cluster(servers: EmbeddedServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Server processes on the run's PostgreSQL and Redis; each test starts (and kills) what it needs."""
    workdir = tmp_path_factory.mktemp("faults")
    database_url = asyncio.run(create_database(servers, unique_name("cluster")))
    deployment = build(workdir, database_url, servers.redis_url, "c")
    try:
        yield deployment
    finally:
        deployment.stop()


def alive(deployment: Deployment, count: int) -> list[str]:
    """URLs of `count` running servers of the deployment, starting more if needed."""
    urls = [url for process, url in deployment.servers if process.poll() is None]
    while len(urls) < count:
        urls.append(deployment.start_server())
    return urls[:count]


def kill(deployment: Deployment, url: str) -> float:
    process = next(p for p, u in deployment.servers if u == url)
    process.kill()  # SIGKILL: no shutdown hook runs, the step never writes its end
    process.wait(10)
    return time.monotonic()


def client(deployment: Deployment, url: str) -> ReplayClient:
    return ReplayClient(url, deployment.tokens["ada"])


async def texts_in_history(deployment: Deployment, url: str, session_id: int) -> list[str]:
    chats = await client(deployment, url).chats(session_id)
    return [
        c["message_data"]["text"]
        for c in chats
        if c["actor"] == "ASSISTANT" and c["message_data"]["message_type"] == "TEXT"
    ]


async def settled_texts(deployment: Deployment, url: str, session_id: int, *, count: int) -> list[str]:
    """The session's assistant texts once at least `count` are stored (or what is there after 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        texts = await texts_in_history(deployment, url, session_id)
        if len(texts) >= count or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(0.05)


async def users_in_history(deployment: Deployment, url: str, session_id: int) -> list[str]:
    chats = await client(deployment, url).chats(session_id)
    return [c["message_data"]["text"] for c in chats if c["actor"] == "USER"]


async def step_row(database_url: str, stream_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        return dict(await conn.fetchrow("SELECT status, end_event, error FROM steps WHERE stream_id = $1", stream_id))
    finally:
        await conn.close()


async def count_rows(database_url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM sessions"),
            await conn.fetchval("SELECT count(*) FROM user_queries"),
            await conn.fetchval("SELECT count(*) FROM steps"),
        )
    finally:
        await conn.close()


async def until_silent(socket: Socket, quiet_s: float) -> list[dict[str, Any]]:
    frames = []
    while True:
        try:
            frames.append(await socket.frame(timeout=quiet_s))
        except TimeoutError:
            return frames


def message_ids(*turns: Turn) -> list[str]:
    return [f["message_id"] for turn in turns for f in turn.events]


def assert_lost(turn: Turn) -> None:
    assert turn.frames[-1]["data"]["type"] == "STREAM_ERROR" and "message_id" in turn.frames[-1], turn.compact()
    assert (turn.error["status"], turn.error["message"]) == LOST


# --- a server killed mid-stream -----------------------------------------------------------------------------


async def test_a_killed_single_server_restarts_and_the_resume_ends_with_an_error_and_keeps_the_text(cluster):
    cluster.script(SLOW, {"text": "after the restart"})
    (doomed,) = alive(cluster, 1)
    socket = await client(cluster, doomed).socket()
    await socket.send({"query": "long answer"})
    seen = await socket.turn(stop_after=12)
    session_id = session_of(seen)
    kill(cluster, doomed)
    cluster.servers = [(p, u) for p, u in cluster.servers if u != doomed]
    restarted = cluster.start_server()  # the same deployment, a new process: the old one's step is lost
    back = await client(cluster, restarted).socket()
    asked = time.monotonic()
    rest = await back.ask({"resume_query_id": seen.stream_id, "resume_offset_id": seen.events[-1]["message_id"]})
    answered_s = time.monotonic() - asked
    assert_lost(rest)
    assert answered_s < DETECTION_S, f"the resume waited {answered_s:.1f} s"
    ids = message_ids(seen, rest)
    assert len(ids) == len(set(ids)), "no event twice"
    shown = seen.text + rest.text
    assert shown and WORDS.startswith(shown)
    # What the client was shown is in history, once; the session takes the next query at once. The settler
    # makes the ending visible before it stores the shown text, so a client reading history at once may be
    # a moment early: wait for the text, then check it is there exactly once.
    assert await settled_texts(cluster, restarted, session_id, count=1) == [shown]
    again = await back.ask({"query": "and now?", "session_id": session_id})
    assert again.compact() == FINAL and again.text == "after the restart"
    assert await users_in_history(cluster, restarted, session_id) == ["long answer", "and now?"]
    await socket.close()
    await back.close()


async def test_a_killed_worker_of_two_is_noticed_by_a_follower_and_a_new_query_on_the_other(cluster):
    survivor, doomed = alive(cluster, 2)
    cluster.script(SLOW, {"text": "next answer"})
    socket = await client(cluster, doomed).socket()
    await socket.send({"query": "long answer"})
    seen = await socket.turn(stop_after=8)
    session_id = session_of(seen)
    # A second connection follows the step from the other process (a resume, tailing Redis).
    follower = await client(cluster, survivor).socket()
    await follower.send({"resume_query_id": seen.stream_id, "resume_offset_id": seen.events[-1]["message_id"]})
    followed = asyncio.create_task(follower.turn(timeout=DETECTION_S + 5))
    await asyncio.sleep(0.3)
    killed_at = kill(cluster, doomed)
    # Meanwhile the user asks again on the surviving process: busy only until the step is known lost.
    asker = await client(cluster, survivor).socket()
    busy = 0
    while True:
        answer = await asker.ask({"query": "next", "session_id": session_id}, timeout=DETECTION_S + 5)
        if answer.error is None or answer.error["status"] != "SESSION_BUSY":
            break
        busy += 1
        await asyncio.sleep(0.1)
    freed_s = time.monotonic() - killed_at
    rest = await followed
    followed_s = time.monotonic() - killed_at
    assert_lost(rest)
    assert answer.compact() == FINAL and answer.text == "next answer"
    assert freed_s < DETECTION_S and followed_s < DETECTION_S + 0.5, (freed_s, followed_s)
    shown = seen.text + rest.text
    assert await texts_in_history(cluster, survivor, session_id) == [shown, "next answer"]
    assert await users_in_history(cluster, survivor, session_id) == ["long answer", "next"]
    print(f"\nkill -9 of one of two: follower ended after {followed_s:.2f} s, session free after {freed_s:.2f} s")
    for s in (socket, follower, asker):
        await s.close()


# --- cancellation -------------------------------------------------------------------------------------------


async def test_a_cancel_whose_pubsub_message_is_lost_still_stops_the_step_on_the_other_worker(cluster):
    runner, canceller = alive(cluster, 2)
    cluster.script({"text": "z" * 400, "chunk_chars": 2, "delay_ms": 20}, {"text": "fresh"})
    socket = await client(cluster, runner).socket()
    await socket.send({"query": "long"})
    seen = await socket.turn(stop_after=6)
    session_id = session_of(seen)
    channel = f"{cluster.prefix}cancel"
    plain = redis.Redis.from_url(cluster.redis_url)
    try:
        # Every cancel listener is cut off; a listener may reconnect at once, so cut again until none listens,
        # and publish the cancel into that gap: the message is lost and only the fallback can stop the step.
        for _ in range(200):
            plain.client_kill_filter(_type="pubsub")
            if plain.pubsub_numsub(channel)[0][1] == 0:
                break
        else:
            raise AssertionError("the cancel listeners kept reconnecting before the cancel could be lost")
        cancelled = await client(cluster, canceller).cancel(session_id)
    finally:
        plain.close()
    cancel_at = time.time()
    assert cancelled.json()["data"]["cancelled_steps"] == 1
    after = await until_silent(socket, 1.0)
    assert not [f for f in after if f["data"]["type"] in ("STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR")]
    stopped = [r for r in cluster.requests() if r["event"] == "cancelled"]
    assert stopped and stopped[0]["time"] - cancel_at < 1.0, "the provider call stops within 1 s"
    resumed = await socket.ask({"resume_query_id": seen.stream_id})
    assert resumed.compact()[-1] == "ERR(CANCELLED)"
    fresh = await socket.ask({"query": "go on", "session_id": session_id})
    assert fresh.compact() == FINAL and fresh.text == "fresh"
    await socket.close()


async def test_a_cancel_racing_the_last_events_has_one_outcome_for_the_client_the_buffer_and_the_database(cluster):
    (url,) = alive(cluster, 1)
    cluster.script({"text": "short answer here", "chunk_chars": 3, "delay_ms": 15}, mode="repeat")
    ada = client(cluster, url)
    socket = await ada.socket()
    await socket.send({"query": "measure"})
    probe = await socket.turn(stop_after=2)
    started = time.monotonic()
    await until_silent(socket, 0.3)
    delay = time.monotonic() - started - 0.3  # from RESPONSE_METADATA to the step's last event
    outcomes = {"completed": 0, "cancelled": 0}
    rng = random.Random(7)
    for attempt in range(24):
        await socket.send({"query": f"race {attempt}", "session_id": session_of(probe)})
        head = await socket.turn(stop_after=2)
        await asyncio.sleep(max(0.0, delay + rng.uniform(-0.003, 0.003)))
        cancelled = (await ada.cancel(session_of(probe))).json()["data"]["cancelled_steps"]
        frames = await until_silent(socket, 0.3)
        client_completed = any(f["data"]["type"] == "STREAM_END_CLOSE_CONNECTION" for f in frames)
        assert not any(f["data"]["type"] == "STREAM_ERROR" for f in frames), "a cancel is silent on live sockets"
        row = await step_row(cluster.database_url, head.stream_id)
        buffered = await socket.ask({"resume_query_id": head.stream_id})
        if client_completed:
            assert cancelled == 0 and row["status"] == "COMPLETED" and buffered.compact()[-1] == "SECC", attempt
        else:
            assert cancelled == 1 and row["status"] == "CANCELLED", (attempt, row, cancelled)
            assert buffered.compact()[-1] == "ERR(CANCELLED)", attempt
        outcomes["completed" if client_completed else "cancelled"] += 1
        # Hover around the moment the step ends, where a cancel and the last events race.
        delay += -0.004 if client_completed else 0.004
    assert all(outcomes.values()), f"the timing should produce both outcomes: {outcomes}"
    await socket.close()


# --- a buffer that lost a step's ending ---------------------------------------------------------------------


async def test_a_step_whose_buffer_lost_its_ending_is_resumed_with_the_ending_its_row_records(cluster):
    (url,) = alive(cluster, 1)
    cluster.script({"text": "all done"})
    socket = await client(cluster, url).socket()
    turn = await socket.ask({"query": "finish"})
    assert turn.compact() == FINAL
    plain = redis.Redis.from_url(cluster.redis_url)
    try:  # as if Redis lost the step's last write (it died right after the row recorded the ending)
        key = f"{cluster.prefix}step:{turn.stream_id}"
        plain.xdel(key, *[f["message_id"] for f in turn.events[-3:]])
    finally:
        plain.close()
    offset = turn.events[-4]["message_id"]
    resumed = await socket.ask({"resume_query_id": turn.stream_id, "resume_offset_id": offset})
    assert resumed.compact() == ["SS", "TC", "QC", "SECC"]
    assert resumed.of("TASK_COMPLETION")[0]["data"]["content"] == turn.of("TASK_COMPLETION")[0]["data"]["content"]
    await socket.close()


# --- PostgreSQL stopped mid-step ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres(embedded_service_dir: Path) -> Iterator[EmbeddedPostgres]:
    data_dir = reachable_temp_dir("adjutant-test-faults-pg-")
    postgres = EmbeddedPostgres(data_dir, service_dir=embedded_service_dir)
    try:
        postgres.start()

        async def prepare_database() -> None:
            await ensure_database(postgres.url("adjutant"))
            await migrate(postgres.url("adjutant"))

        asyncio.run(prepare_database())
        yield postgres
    finally:
        postgres.release()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_postgres_stopped_mid_step_the_client_gets_an_error_and_history_gets_the_text_back(
    own_postgres, servers, tmp_path
):
    database_url = own_postgres.url("adjutant")
    deployment = build(tmp_path, database_url, servers.redis_url, "p")
    try:
        (url,) = alive(deployment, 1)
        deployment.script(SLOW, {"text": "back again"})
        socket = await client(deployment, url).socket()
        await socket.send({"query": "long answer"})
        seen = await socket.turn(stop_after=8)
        session_id = session_of(seen)
        await asyncio.to_thread(own_postgres.release)  # a fast shutdown: every connection is cut
        frames = []
        while not frames or frames[-1]["data"]["type"] not in ("STREAM_ERROR", "STREAM_END_CLOSE_CONNECTION"):
            frames.append(await socket.frame(timeout=10))
        assert frames[-1]["data"]["type"] == "STREAM_ERROR" and "message_id" in frames[-1], [
            f["data"]["type"] for f in frames
        ]
        shown = seen.text + "".join(f["data"]["content"]["text"] for f in frames if f["data"]["type"] == "TEXT_DELTA")
        assert shown == WORDS, "the model's whole answer was shown before the step met the database"
        # While the database is away, a request gets a typed error and the socket stays usable.
        refused = await socket.ask({"query": "while it is down", "session_id": session_id})
        assert refused.compact() == ["SS", "ERR(INTERNAL_ERROR)"] and "message_id" not in refused.frames[-1]
        await asyncio.to_thread(own_postgres.start)
        # The row is reconciled once the database is back: failed, with the text it showed in history.
        deadline = time.monotonic() + 15
        while (row := await step_row(database_url, seen.stream_id))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the step was never reconciled"
            await asyncio.sleep(0.3)
        assert row["status"] == "FAILED" and row["end_event"] == "STREAM_ERROR"
        assert await texts_in_history(deployment, url, session_id) == [WORDS]
        again = await socket.ask({"query": "are you back?", "session_id": session_id})
        assert again.compact() == FINAL and again.text == "back again"
        assert await users_in_history(deployment, url, session_id) == ["long answer", "are you back?"]
        await socket.close()
    finally:
        deployment.stop()


# --- Redis killed ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_redis() -> Iterator[EmbeddedRedis]:
    data_dir = reachable_temp_dir("adjutant-test-faults-redis-")
    server = EmbeddedRedis(data_dir)
    try:
        server.start()
        yield server
    finally:
        server.release()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_redis_killed_fails_the_running_step_refuses_new_queries_and_resumes_from_the_database(
    own_redis, servers, tmp_path
):
    database_url = await create_database(servers, unique_name("redis"))
    deployment = build(tmp_path, database_url, own_redis.url(), "r")
    try:
        (url,) = alive(deployment, 1)
        deployment.script(SLOW, {"text": "redis is back"})
        socket = await client(deployment, url).socket()
        await socket.send({"query": "long answer"})
        seen = await socket.turn(stop_after=8)
        session_id = session_of(seen)
        await asyncio.sleep(1.2)  # the append-only file has the first events on disk
        pid = own_redis.running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        frames = []
        while not frames or frames[-1]["data"]["type"] not in ("STREAM_ERROR", "STREAM_END_CLOSE_CONNECTION"):
            frames.append(await socket.frame(timeout=15))
        error_s = time.monotonic() - killed_at
        assert frames[-1]["data"]["type"] == "STREAM_ERROR" and frames[-1]["data"]["status"] == "INTERNAL_ERROR"
        shown = seen.text + "".join(f["data"]["content"]["text"] for f in frames if f["data"]["type"] == "TEXT_DELTA")
        assert shown and WORDS.startswith(shown) and shown != WORDS, "the step stopped; it did not run on unseen"
        # A query during the outage is refused in-band and leaves nothing behind.
        before = await count_rows(database_url)
        fresh = await client(deployment, url).socket()
        for payload in ({"query": "new chat"}, {"query": "same chat", "session_id": session_id}):
            refused = await fresh.ask(payload, timeout=15)
            assert refused.compact() == ["SS", "ERR(INTERNAL_ERROR)"], refused.frames
        assert await count_rows(database_url) == before
        row = await step_row(database_url, seen.stream_id)
        assert row["status"] == "FAILED", row
        await asyncio.to_thread(own_redis.start)
        # The step's buffer has no ending (Redis died first): the resume ends as the database says it did.
        resumed = await fresh.ask({"resume_query_id": seen.stream_id}, timeout=15)
        assert resumed.frames[-1]["data"]["type"] == "STREAM_ERROR", resumed.compact()
        assert resumed.frames[-1]["data"]["status"] == "INTERNAL_ERROR"
        ids = message_ids(resumed)
        assert len(ids) == len(set(ids))
        again = await fresh.ask({"query": "is it back?", "session_id": session_id}, timeout=15)
        assert again.compact() == FINAL and again.text == "redis is back"
        # History keeps at least what was shown (the model's output up to the failure), once.
        kept, answer = await texts_in_history(deployment, url, session_id)
        assert kept.startswith(shown) and WORDS.startswith(kept) and answer == "redis is back"
        assert await users_in_history(deployment, url, session_id) == ["long answer", "is it back?"]
        print(f"\nRedis killed: the client's error arrived after {error_s:.2f} s")
        await socket.close()
        await fresh.close()
    finally:
        deployment.stop()
