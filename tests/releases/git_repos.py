"""Real git repositories for the release-notes tests, built with the `git` command: commits with chosen authors,
files and messages at fixed, increasing dates (so every run builds the same history), tags, branches, merges
and reverts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ALICE = ("Alice Archer", "alice@example.com")
BOB = ("Bob Baker", "bob@example.com")
CAROL = ("Carol Chen", "carol@example.com")
DAVE = ("Dave Diaz", "dave@example.com")
ERIN = ("Erin Evans", "erin@example.com")
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


class Repo:
    def __init__(self, path: Path, *, init: bool = True) -> None:
        self.path = path
        self.clock = 1_800_000_000 if not init else 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        if init:
            self.git("init", "-q", "-b", "main")

    @classmethod
    def clone_of(cls, source: Path, path: Path) -> Repo:
        subprocess.run(["git", "clone", "-q", str(source), str(path)], check=True, capture_output=True)
        return cls(path, init=False)

    def git(self, *args: str, author: tuple[str, str] = ALICE) -> str:
        self.clock += 60
        stamp = f"{self.clock} +0000"
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, str] | None = None, *, author: tuple[str, str] = ALICE) -> str:
        for name, content in (files or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.head()

    def bare_copy(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(self.path), str(target)], check=True, capture_output=True)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str) -> None:
        self.git("tag", "-a", name, "-m", name)

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def merge(self, branch: str, message: str, *, author: tuple[str, str] = ALICE) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, author=author)
        return self.head()

    def revert(self, sha: str, *, author: tuple[str, str] = ALICE) -> str:
        self.git("revert", "--no-edit", sha, author=author)
        return self.head()
