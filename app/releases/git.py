"""The `git` command for release notes: read-only subcommands on a local repository, run in a worker thread
(never on the event loop), bounded in time and output, with no user or system configuration read.

Refs come from users: each is checked to look like a ref and is passed after `--end-of-options`, so a ref can
never be read as an option.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from app.errors import ReleaseRangeInvalid

REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/@{}~^+-]{0,199}$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_*?\[\]][A-Za-z0-9._/*?\[\]+-]{0,99}$")
DEFAULT_TIMEOUT_S = 60.0
MAX_OUTPUT_BYTES = 200_000_000


def check_ref(ref: str) -> str:
    if not REF.match(ref) or ".." in ref:
        raise ReleaseRangeInvalid(f"{ref!r} is not a git ref (a tag, branch, SHA or HEAD)")
    return ref


def check_tag_pattern(pattern: str) -> str:
    if not TAG_PATTERN.match(pattern):
        raise ReleaseRangeInvalid(f"{pattern!r} is not a tag pattern (a glob such as v* or api-v*)")
    return pattern


@functools.cache
def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise ReleaseRangeInvalid("git is not installed on this machine")
    return git


def _environment() -> dict[str, str]:
    return {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": os.devnull,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        # Checkouts the server made belong to it; a user's own checkout may belong to anyone.
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
        "GIT_CONFIG_KEY_1": "core.quotePath",
        "GIT_CONFIG_VALUE_1": "false",
    }


class GitRepository:
    """A local repository (a working tree or a bare one) read through `git -C <path>`."""

    def __init__(self, path: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = path
        self.timeout_s = timeout_s

    async def check(self) -> None:
        """ReleaseRangeInvalid unless the path is a git repository with at least one commit."""
        if not self.path.is_dir():
            raise ReleaseRangeInvalid(f"{self.path} is not a directory")
        if await self.try_run("rev-parse", "--verify", "--quiet", "HEAD^{commit}") is None:
            raise ReleaseRangeInvalid(f"{self.path} is not a git repository with commits")

    async def run(self, *args: str) -> str:
        """git's standard output; ReleaseRangeInvalid when it fails (its message is about our refs, not secrets)."""
        code, out, err = await asyncio.to_thread(self._run, args)
        if code != 0:
            raise ReleaseRangeInvalid(f"git {args[0]} failed: {err.strip()[-500:] or f'exit {code}'}")
        return out

    async def try_run(self, *args: str) -> str | None:
        code, out, _ = await asyncio.to_thread(self._run, args)
        return out if code == 0 else None

    async def commit_of(self, ref: str) -> str:
        found = await self.try_run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{check_ref(ref)}^{{commit}}"
        )
        if found is None:
            raise ReleaseRangeInvalid(f"the repository has no commit {ref!r}")
        return found.strip()

    def _run(self, args: tuple[str, ...]) -> tuple[int, str, str]:
        try:
            # A fixed argv of our own subcommands; user refs were checked and follow --end-of-options.
            done = subprocess.run(  # noqa: S603
                [_git(), "-C", str(self.path), *args],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env=_environment(),
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ReleaseRangeInvalid(f"git {args[0]} took longer than {self.timeout_s:.0f} s") from None
        if len(done.stdout) > MAX_OUTPUT_BYTES:
            raise ReleaseRangeInvalid("the range's history is too large to read; choose a smaller range")
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
