"""Shallow clones and refreshes of a checked git remote into a private directory.

git connects only to the address the policy checked (curl's resolve pin), follows no redirect, reads no
system or user configuration, and gets the URL's credentials as a header through its environment: they
never appear in argv (visible to every local user), `.git/config` or the reflog. The checkout is private
(umask 077) and bounded in size and time. What git prints stays in the server log: a client only ever
sees a generic reason, since git's own messages would tell it which internal ports answer.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from app.errors import IndexingFailed
from app.runtime.redaction import redact_url
from app.search.git_remote import GitRemote

log = logging.getLogger("adjutant.search")
MIN_GIT = (2, 37)  # http.curloptResolve
SIZE_CHECK_S = 0.5
PRIVATE_UMASK = 0o077


def clone_or_pull(remote: GitRemote, checkout: Path, *, max_bytes: int, timeout_s: float) -> None:
    """A shallow clone, or the latest commit of the remote's default branch in an existing one (a mirror we
    own: history rewrites upstream are simply followed)."""
    git = _git()
    checkout.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = remote.url.without_credentials()
    if (checkout / ".git").is_dir():
        # Checkouts made before credentials left the URL may still hold them in their remote.
        commands = [
            [git, "-C", str(checkout), "remote", "set-url", "origin", url],
            [git, "-C", str(checkout), "fetch", "--depth", "1", "--", url, "HEAD"],
            [git, "-C", str(checkout), "reset", "--hard", "--quiet", "FETCH_HEAD"],
        ]
        # Older checkouts were made under the default umask; git keeps a rewritten config's mode.
        checkout.chmod(0o700)
        (checkout / ".git" / "config").chmod(0o600)
    else:
        commands = [[git, "clone", "--depth", "1", "--quiet", "--", url, str(checkout)]]
    deadline = time.monotonic() + timeout_s
    for command in commands:
        _run(command, _environment(remote), checkout, max_bytes=max_bytes, deadline=deadline)


def mirror_history(remote: GitRemote, mirror: Path, *, max_bytes: int, timeout_s: float) -> None:
    """A bare clone with the whole history and every tag (release notes read commits a shallow clone lacks),
    or the remote's new commits and tags fetched into an existing one; same address pin, limits and privacy."""
    git = _git()
    mirror.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = remote.url.without_credentials()
    if (mirror / "HEAD").is_file():
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        commands = [[git, "-C", str(mirror), "fetch", "--quiet", "--prune", "--", url, *refspecs]]
    else:
        commands = [[git, "clone", "--bare", "--quiet", "--", url, str(mirror)]]
    deadline = time.monotonic() + timeout_s
    for command in commands:
        _run(command, _environment(remote), mirror, max_bytes=max_bytes, deadline=deadline)


def _environment(remote: GitRemote) -> dict[str, str]:
    settings = {
        "http.followRedirects": "false",
        "core.symlinks": "false",  # a link in the tree becomes a small file, never a way out of the checkout
        "credential.helper": "",
        "http.lowSpeedLimit": "1000",  # bytes/s; a remote that trickles slower for a minute is dropped
        "http.lowSpeedTime": "60",
    }
    pin = remote.curl_resolve()
    if pin is not None:
        settings["http.curloptResolve"] = pin
    authorization = remote.url.authorization()
    if authorization is not None:
        settings["http.extraHeader"] = f"Authorization: {authorization}"
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": remote.url.scheme,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "HOME": os.devnull,
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "GIT_CONFIG_COUNT": str(len(settings)),
    }
    for index, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _run(command: list[str], env: dict[str, str], checkout: Path, *, max_bytes: int, deadline: float) -> None:
    verb = command[3] if command[1] == "-C" else command[1]
    with tempfile.TemporaryFile() as stderr:
        # A fixed argv (the URL was rebuilt from checked parts and comes after "--"), no shell.
        process = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, umask=PRIVATE_UMASK
        )
        reason = None
        while True:
            try:
                process.wait(timeout=SIZE_CHECK_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                reason = "the clone took too long"
            elif _disk_usage(checkout) > max_bytes:
                reason = f"the repository needs more than {max_bytes // 2**20} MiB on disk (search.git_max_clone_bytes)"
            if reason is not None:
                process.kill()
                process.wait()
                break
        if reason is None and process.returncode == 0 and _disk_usage(checkout) > max_bytes:
            reason = f"the repository needs more than {max_bytes // 2**20} MiB on disk (search.git_max_clone_bytes)"
        if reason is None and process.returncode == 0:
            return
        stderr.seek(0)
        detail = stderr.read().decode(errors="replace").strip()[-2000:]
    reference = secrets.token_hex(4)
    log.warning(
        "git %s failed (reference %s, exit %s%s): %s",
        verb,
        reference,
        process.returncode,
        f", {reason}" if reason else "",
        redact_url(detail or "no output"),
    )
    if reason is not None:
        shutil.rmtree(checkout, ignore_errors=True)  # a partial clone would only be refreshed into another
        raise IndexingFailed(f"{reason} (server log reference {reference})")
    raise IndexingFailed(
        "git could not clone the repository: the remote could not be reached, refused access, or is not a git "
        f"repository (server log reference {reference})"
    )


def _disk_usage(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


@functools.cache
def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise IndexingFailed("git is not installed on the server")
    output = subprocess.run([git, "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    found = re.search(r"(\d+)\.(\d+)", output)
    if found is None or (int(found[1]), int(found[2])) < MIN_GIT:
        raise IndexingFailed("the server's git is older than 2.37, which cannot pin the address it connects to")
    return git
