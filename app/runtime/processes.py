"""Process bookkeeping shared by the embedded servers: holders, file locks, free ports, service users.

Nothing here changes the mode of a directory: `ServiceUser` only judges what its account can reach.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from app.errors import EmbeddedServiceError


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock; serialises start/stop of one embedded server across commands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Holder:
    pid: int
    started: float  # process create time: a recycled pid is not the same holder

    def alive(self) -> bool:
        try:
            return abs(psutil.Process(self.pid).create_time() - self.started) < 0.01
        except psutil.Error:
            return False

    @classmethod
    def current(cls) -> Holder:
        return cls(os.getpid(), psutil.Process().create_time())


class HolderFile:
    """The processes using an embedded server; the last live holder to leave stops it.

    Callers hold the server's `file_lock` around every method.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> list[Holder]:
        try:
            raw = json.loads(self.path.read_text())
            return [Holder(int(item["pid"]), float(item["started"])) for item in raw]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return []

    def _write(self, holders: list[Holder]) -> None:
        self.path.write_text(json.dumps([{"pid": h.pid, "started": h.started} for h in holders]))

    def add(self, holder: Holder) -> None:
        holders = [h for h in self._read() if h.alive() and h != holder]
        self._write([*holders, holder])

    def remove(self, holder: Holder) -> list[Holder]:
        """Remove `holder`; return the live holders that remain."""
        remaining = [h for h in self._read() if h != holder and h.alive()]
        self._write(remaining)
        return remaining


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port`; connections of a server that just stopped, lingering in
    TIME_WAIT, do not count (servers bind with SO_REUSEADDR), so a restart keeps its remembered port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(configured: int, remembered_file: Path) -> int:
    """The configured port, else the port used last time if still free, else any free port."""
    if configured:
        return configured
    try:
        remembered = int(remembered_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        remembered = 0
    if remembered and port_is_free(remembered):
        return remembered
    return free_port()


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.05)
    return False


def stop_pid(pid: int, sig: int, timeout: float) -> None:
    """Signal `pid` and wait for it to exit, escalating to SIGKILL after `timeout`."""
    try:
        process = psutil.Process(pid)
        os.kill(pid, sig)
        process.wait(timeout)
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).wait(5)
    except (psutil.NoSuchProcess, ProcessLookupError):
        pass


def write_private(path: Path, text: str) -> None:
    """Write a credential file readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class ServiceUser:
    """The unprivileged account an embedded server runs as when we are root (PostgreSQL refuses root).

    Its commands run with its primary group only (see `run_quiet`), so access is judged by uid and that gid.
    """

    name: str
    uid: int
    gid: int

    @classmethod
    def ensure(cls, name: str) -> ServiceUser:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            argv = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
            try:
                subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603 - fixed argv, no shell
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = (getattr(exc, "stderr", "") or "").strip() or os_error_text(exc)
                raise EmbeddedServiceError(
                    f"cannot create system user {name!r} to run PostgreSQL ({' '.join(argv)}: {detail}); "
                    f"create it yourself or set DATABASE_URL to use an external PostgreSQL"
                ) from None
            entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(item, self.uid, self.gid, follow_symlinks=False)

    def may(self, st: os.stat_result, bits: int) -> bool:
        """Whether this user has all of `bits` (0o4 read, 0o2 write, 0o1 search/execute) on a file."""
        if st.st_uid == self.uid:
            return (st.st_mode >> 6) & bits == bits
        if st.st_gid == self.gid:
            return (st.st_mode >> 3) & bits == bits
        return (st.st_mode & bits) == bits

    def blocker(self, path: Path) -> Path | None:
        """The first directory on the way to `path` (itself included) this user cannot search, or None.

        Components that do not exist yet are not judged: whoever creates them chooses their mode.
        """
        path = path.resolve()
        for directory in [*reversed(path.parents), path]:
            try:
                st = directory.stat()
            except FileNotFoundError:
                return None
            if stat.S_ISDIR(st.st_mode) and not self.may(st, 0o1):
                return directory
        return None

    def tree_blocker(self, root: Path) -> Path | None:
        """The first path on the way to or inside `root` this user cannot search, read or execute, or None."""
        blocked = self.blocker(root)
        if blocked is not None or not root.exists():
            return blocked
        for directory, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(directory, name)
                st = path.lstat()
                if stat.S_ISLNK(st.st_mode):
                    continue
                owner_exec = st.st_mode & stat.S_IXUSR
                needed = 0o5 if stat.S_ISDIR(st.st_mode) or owner_exec else 0o4
                if not self.may(st, needed):
                    return path
        return None

    def describe_blocker(self, path: Path) -> str:
        """Why `path` stops this user, for messages: "user adjutant-pg cannot reach /x (mode 0700, owner root)"."""
        try:
            st = path.stat()
            detail = f"mode {stat.S_IMODE(st.st_mode):04o}, owner {_user_name(st.st_uid)}"
        except OSError as exc:
            detail = os_error_text(exc)
        return f"user {self.name} cannot reach {path} ({detail})"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def os_error_text(exc: BaseException) -> str:
    """An OSError as one readable clause: "Permission denied: '/x'" (no errno prefix)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc)


def run_quiet(argv: list[str], *, user: ServiceUser | None, timeout: float, what: str, umask: int = -1) -> str:
    """Run a helper binary, returning stdout; a failure raises with the tail of its stderr.

    `umask` (default: inherited) is also the umask of whatever daemon the binary forks."""
    kwargs: dict[str, object] = {"umask": umask}
    if user is not None:
        kwargs.update(user=user.uid, group=user.gid, extra_groups=[])
    # Output goes to files, not pipes: pg_ctl's forked server would otherwise keep a pipe open and hang us.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            subprocess.run(  # noqa: S603 - argv built by us from wheel binaries, no shell
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=True, timeout=timeout, **kwargs
            )  # type: ignore[call-overload]
        except OSError as exc:  # the binary could not be executed at all (missing, or not reachable by `user`)
            as_user = f" as user {user.name}" if user is not None else ""
            raise EmbeddedServiceError(f"{what}: cannot run {argv[0]}{as_user}: {os_error_text(exc)}") from None
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServiceError(f"{what} failed (exit {exc.returncode}): {_tail(err)}") from None
        except subprocess.TimeoutExpired:
            raise EmbeddedServiceError(f"{what} timed out after {timeout:.0f} s: {_tail(err)}") from None
        out.seek(0)
        return out.read().decode(errors="replace")


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    lines = handle.read().decode(errors="replace").strip().splitlines()
    return " | ".join(lines[-5:]) or "no output"
