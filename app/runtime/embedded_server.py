"""What embedded PostgreSQL and Redis share: a directory, a password, a remembered port, and a start/stop
protocol that lets several commands use one server, which the last of them stops."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

from app.errors import EmbeddedServiceError
from app.runtime.processes import (
    Holder,
    HolderFile,
    choose_port,
    file_lock,
    os_error_text,
    port_is_free,
    stop_pid,
)


@dataclass(frozen=True)
class Running:
    pid: int
    port: int


class EmbeddedServer(abc.ABC):
    label: str  # for messages, e.g. "PostgreSQL"
    port_setting: str  # the settings key that pins the port
    url_variable: str  # the environment variable that points at an external server instead
    stop_signal: int  # the signal that makes this server shut down cleanly

    def __init__(self, root: Path, *, port: int, start_timeout: float) -> None:
        self.root = root
        self.password_file = root / "password"
        self.port_file = root / "port"
        self.configured_port = port
        self.start_timeout = start_timeout
        self.holders = HolderFile(root / "holders.json")
        self._lock_path = root / ".lock"
        self._holder = Holder.current()
        self.port: int | None = None

    def start(self) -> None:
        """Initialise if needed and start, or attach to the server already running on this directory."""
        try:
            with file_lock(self._lock_path):
                self._prepare()
                running = self._running() or self._launch(self._pick_port())
                self.port_file.write_text(str(running.port))
                self.port = running.port
                self.holders.add(self._holder)
        except OSError as exc:  # a file we need is out of reach: say which, and how to do without us
            raise EmbeddedServiceError(
                f"embedded {self.label} cannot start ({os_error_text(exc)}); choose another --data-dir, "
                f"or set {self.url_variable} to use an external server"
            ) from None

    def release(self) -> bool:
        """Leave the server; stop it (by PID) if no other live process uses it. Returns True if stopped."""
        with file_lock(self._lock_path):
            remaining = self.holders.remove(self._holder)
            running = self._running()
            if remaining or running is None:
                return False
            stop_pid(running.pid, self.stop_signal, timeout=30)
            self._after_stop()
            return True

    def _started_port(self) -> int:
        if self.port is None:
            raise EmbeddedServiceError(f"embedded {self.label} is not started")
        return self.port

    def _pick_port(self) -> int:
        port = choose_port(self.configured_port, self.port_file)
        if not port_is_free(port):
            raise EmbeddedServiceError(f"port {port} for embedded {self.label} is in use ({self.port_setting})")
        return port

    @abc.abstractmethod
    def _prepare(self) -> None:
        """Create whatever the server needs on disk before its first start."""

    @abc.abstractmethod
    def _running(self) -> Running | None:
        """The live server of this directory, or None; stale pid files must not count."""

    @abc.abstractmethod
    def _launch(self, port: int) -> Running:
        """Start the server on `port` and wait until it accepts connections."""

    def _after_stop(self) -> None:  # noqa: B027 - an optional hook, not an abstract step
        """Clean-up once the server has exited (nothing by default)."""
