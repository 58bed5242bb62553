"""Embedded PostgreSQL and Redis: data survives restarts, crashes leave nothing that blocks the next start,
and a server shared by several commands is stopped only by the last one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis as sync_redis

from app.runtime.embedded_postgres import EmbeddedPostgres
from app.runtime.embedded_redis import EmbeddedRedis


def pg_query(url: str, sql: str, *args):
    async def run():
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def process_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_postgres_restart_keeps_data_and_stops_cleanly(data_dir):
    data_dir.mkdir()
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    url = pg.url("postgres")
    pg_query(url, "CREATE TABLE kept (v text)")
    pg_query(url, "INSERT INTO kept VALUES ('survives')")
    pid = pg.running_postmaster().pid
    assert pg.release() is True
    assert process_gone(pid), "release() must stop the server it was the last holder of"

    again = EmbeddedPostgres(data_dir)
    again.start()
    try:
        assert pg_query(again.url("postgres"), "SELECT v FROM kept")[0]["v"] == "survives"
        # The credentials are not trust-based: a wrong password is refused.
        wrong = again.url("postgres").replace(again.password_file.read_text().strip(), "wrong")
        with pytest.raises(asyncpg.InvalidPasswordError):
            pg_query(wrong, "SELECT 1")
        assert (again.password_file.stat().st_mode & 0o077) == 0
    finally:
        again.release()


def test_postgres_recovers_from_a_crash_and_a_recycled_pid(data_dir):
    data_dir.mkdir()
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    pg_query(pg.url("postgres"), "CREATE TABLE crash_safe (v int)")
    pg_query(pg.url("postgres"), "INSERT INTO crash_safe VALUES (1)")
    postmaster = pg.running_postmaster()
    os.kill(postmaster.pid, signal.SIGKILL)  # a crash: postmaster.pid stays behind
    assert process_gone(postmaster.pid)
    assert (pg.pgdata / "postmaster.pid").exists()
    # Worse: the stale file now names a live process that is not PostgreSQL (pid reuse).
    lines = (pg.pgdata / "postmaster.pid").read_text().splitlines()
    lines[0] = str(os.getpid())
    (pg.pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
    # The crashed server's children may linger a moment; wait until its shared memory is released.
    for child in psutil.process_iter(["name", "cmdline"]):
        if child.info["name"] == "postgres" and str(pg.pgdata) in " ".join(child.info["cmdline"] or []):
            child.kill()

    recovered = EmbeddedPostgres(data_dir)
    recovered.start()
    try:
        assert recovered.running_postmaster().pid != os.getpid()
        assert pg_query(recovered.url("postgres"), "SELECT v FROM crash_safe")[0]["v"] == 1
    finally:
        recovered.release()
        pg.release()


def test_a_shared_server_is_stopped_by_its_last_holder(data_dir):
    data_dir.mkdir()
    first = EmbeddedPostgres(data_dir)
    first.start()
    pid = first.running_postmaster().pid
    # Another command (another process) attaches to the same server.
    code = (
        "import sys, time; from pathlib import Path; from app.runtime.embedded_postgres import EmbeddedPostgres;"
        "pg = EmbeddedPostgres(Path(sys.argv[1])); pg.start(); print(pg.running_postmaster().pid, flush=True);"
        "sys.stdin.readline(); print(pg.release(), flush=True)"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert int(other.stdout.readline()) == pid, "the second command must attach, not start another server"
        assert first.release() is False, "a holder must not stop a server another live process uses"
        assert psutil.pid_exists(pid)
        other.stdin.write("\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "True"
        assert process_gone(pid)
    finally:
        other.kill()


def test_redis_restart_keeps_data_and_recovers_a_stale_pid_file(data_dir):
    data_dir.mkdir()
    first = EmbeddedRedis(data_dir)
    first.start()
    client = sync_redis.Redis.from_url(first.url())
    client.set("adj:kept", "yes")
    client.close()
    pid = first.running_pid()
    assert first.release() is True
    assert process_gone(pid)

    (first.root / "redis.pid").write_text(str(os.getpid()))  # stale, and naming a live non-Redis process
    second = EmbeddedRedis(data_dir)
    second.start()
    try:
        client = sync_redis.Redis.from_url(second.url())
        assert client.get("adj:kept") == b"yes"
        client.close()
        unauthenticated = sync_redis.Redis(host="127.0.0.1", port=second.port)
        with pytest.raises(sync_redis.AuthenticationError):
            unauthenticated.get("adj:kept")
        unauthenticated.close()
    finally:
        second.release()
