"""Adjutant's release notes (no model: what `adjutant release-notes --no-llm` runs) against git-cliff with its own
conventional configuration (`git-cliff --init`), on the same ranges.

Histories:
- this repository's own (split into three ranges by commit count when it has no tags);
- a generated project: hundreds of commits by several authors who join over time, conventional and free-form
  messages, `!` and `BREAKING CHANGE:` footers (also under free-form subjects), reverts within a release, pull
  requests merged with merge commits, squash merges, dependabot bumps, and a release tag every ~60 commits;
- a generated monorepo (services/api, services/web, libs/core) with per-service tags (api-v*, web-v*), each
  service's ranges scoped to its path.

For generated histories the generator records the truth of every commit: the type a maintainer would give it,
whether it belongs in the notes at all (merges, reverted pairs and squash duplicates do not; bot bumps are a
policy choice, reported apart), whether it breaks something, and who wrote it. Per range it prints changes
classified the same, breaking changes found by each, contributors and new contributors by each, and every
disagreement with the side that is right. git-cliff's conventional configuration cannot name new contributors
without a forge API; the figure shown for it is derived from its own output over the whole history (the first
release whose kept commits include the person).

Run: uv run --no-sync python bench/release_notes_vs_git_cliff.py [--seed N] [--commits N] [--quiet]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.releases.git import GitRepository
from app.releases.service import RangeRequest, generate

CLIFF_GROUPS = {
    "Features": "feat",
    "Bug Fixes": "fix",
    "Documentation": "docs",
    "Performance": "perf",
    "Refactor": "refactor",
    "Styling": "style",
    "Testing": "test",
    "Miscellaneous Tasks": "chore|ci",
    "Security": "security",
    "Revert": "revert",
    "Other": "other",
}
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
PEOPLE = [
    ("Ada Lovelace", "ada@example.com", 0),
    ("Grace Hopper", "grace@example.com", 0),
    ("Linus Torvalds", "linus@example.com", 40),
    ("Margaret Hamilton", "margaret@example.com", 90),
    ("Ken Thompson", "ken@example.com", 150),
    ("Barbara Liskov", "barbara@example.com", 200),
    ("Dennis Ritchie", "dennis@example.com", 260),
]
SCOPES = ["api", "cli", "core", "ui", "db"]
THINGS = [
    "the importer",
    "the exporter",
    "login",
    "search",
    "the cache",
    "config loading",
    "the scheduler",
    "pagination",
]
CONVENTIONAL = [("feat", 25), ("fix", 25), ("docs", 9), ("refactor", 9), ("test", 8), ("chore", 6), ("ci", 5),
                ("perf", 5), ("build", 4), ("style", 4)]  # fmt: skip
FREE_FORM = [  # (template, the type a maintainer would give it)
    ("Fix crash when {x} is empty", "fix"), ("Fixed a typo in {x}", "fix"), ("Handle a missing {x} gracefully", "fix"),
    ("{X} no longer hangs on slow networks", "fix"), ("Add support for {x} in the CLI", "feat"),
    ("Allow {x} to be configured", "feat"), ("Users can now export {x}", "feat"), ("Support {x} over HTTP", "feat"),
    ("Update the README for {x}", "docs"), ("Document {x}", "docs"), ("Refactor {x}", "refactor"),
    ("Clean up {x}", "refactor"), ("Speed up {x}", "perf"), ("Make {x} faster", "perf"),
    ("More tests for {x}", "test"), ("Tweak {x}", "other"), ("Improve {x} messages", "other"), ("misc", "other"),
    ("WIP {x}", "chore"),
]  # fmt: skip


@dataclass
class Truth:
    type: str | None  # None: it does not belong in the notes
    why_absent: str | None = None  # merge, reverted, squash duplicate, bot (policy)
    breaking: bool = False
    author: tuple[str, str] | None = None
    subject: str = ""
    paths: list[str] = field(default_factory=list)


class Builder:
    """A git repository written commit by commit with fixed, increasing dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_690_000_000
        self.truth: dict[str, Truth] = {}
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: tuple[str, str] = PEOPLE[0][:2]) -> str:
        self.clock += 3600
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
        if done.returncode:
            raise RuntimeError(f"git {args}: {done.stderr}")
        return done.stdout.strip()

    def commit(
        self, message: str, paths: list[str], author: tuple[str, str], truth: Truth, content: str | None = None
    ) -> str:
        """`content` replaces the files' text (the same change on two branches merges cleanly); else a line is added."""
        for name in paths:
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if content is not None:
                target.write_text(content)
            else:
                with target.open("a") as handle:
                    handle.write(f"{self.clock}\n")
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        sha = self.git("rev-parse", "HEAD")
        truth.author, truth.subject, truth.paths = author, message.splitlines()[0], paths
        self.truth[sha] = truth
        return sha


def files_for(kind: str, scope: str, rng: random.Random, root: str = "", unique: int | None = None) -> list[str]:
    """The files a change of `kind` touches; `unique` gives it files of its own (so reverting it never conflicts)."""
    if unique is not None:
        return [p.replace(".", f"-{unique}.", 1) if "/" in p else p for p in files_for(kind, scope, rng, root)]
    if kind == "docs":
        return [f"{root}docs/{scope}.md"]
    if kind == "test":
        return [f"{root}tests/test_{scope}.py"]
    if kind == "ci":
        return [".github/workflows/ci.yml"]
    if kind == "build":
        return [f"{root}pyproject.toml"]
    paths = [f"{root}src/{scope}/{rng.randrange(6)}.py"]
    if kind == "feat" and rng.random() < 0.5:
        paths.append(f"{root}docs/{scope}.md")
    return paths


def conventional_message(rng: random.Random) -> tuple[str, str, bool]:
    kind = rng.choices([k for k, _ in CONVENTIONAL], [w for _, w in CONVENTIONAL])[0]
    scope = rng.choice(SCOPES) if rng.random() < 0.5 else ""
    thing = rng.choice(THINGS)
    verb = {"feat": "add", "fix": "repair", "perf": "speed up"}.get(kind, "update")
    bang = kind in ("feat", "fix", "refactor") and rng.random() < 0.05
    header = f"{kind}{f'({scope})' if scope else ''}{'!' if bang else ''}: {verb} {thing}"
    footer = not bang and kind in ("feat", "refactor") and rng.random() < 0.04
    body = f"\n\nBREAKING CHANGE: {thing} now needs a key" if footer else ""
    return header + body, kind, bang or footer


def free_form_message(rng: random.Random) -> tuple[str, str, bool]:
    template, kind = rng.choice(FREE_FORM)
    thing = rng.choice(THINGS)
    subject = template.format(x=thing, X=thing[:1].upper() + thing[1:])
    breaking = kind == "feat" and rng.random() < 0.08
    return subject + (f"\n\nBREAKING CHANGE: {thing} moved" if breaking else ""), kind, breaking


def people_at(index: int) -> list[tuple[str, str]]:
    return [(name, email) for name, email, joins in PEOPLE if joins <= index]


def build_project(path: Path, commits: int, rng: random.Random, *, monorepo: bool = False) -> tuple[Builder, list[str]]:
    """A generated history; returns it and its tags in order."""
    repo = Builder(path)
    roots = ["services/api/", "services/web/", "libs/core/"] if monorepo else [""]
    tags: list[str] = []
    recent: list[str] = []
    pr = 100
    repo.commit("chore: initial commit", ["README.md"], PEOPLE[0][:2], Truth("chore"))
    index = 1
    while index < commits:
        author = rng.choice(people_at(index))
        root = rng.choice(roots)
        draw = rng.random()
        if draw < 0.05 and recent:  # a revert of a recent change: both vanish from the release
            target = rng.choice(recent[-10:])
            repo.git("revert", "--no-edit", target, author=author)
            sha = repo.git("rev-parse", "HEAD")
            repo.truth[sha] = Truth(None, "reverted pair", author=author, subject=f"Revert {target[:8]}")
            repo.truth[target].type, repo.truth[target].why_absent = None, "reverted pair"
            repo.truth[target].breaking = False
            recent.remove(target)
        elif draw < 0.10:
            bump = f"build(deps): bump {rng.choice(['requests', 'httpx', 'pydantic'])} from 1.{index} to 1.{index + 1}"
            repo.commit(bump, [f"{root}requirements.txt"], BOT, Truth(None, "bot (policy)"))
        elif draw < 0.16:  # a pull request merged with a merge commit
            pr += 1
            branch = f"topic-{pr}"
            repo.git("checkout", "-q", "-b", branch)
            for _ in range(rng.randint(2, 3)):
                message, kind, breaking = conventional_message(rng) if rng.random() < 0.6 else free_form_message(rng)
                scope = rng.choice(SCOPES)
                repo.commit(message, files_for(kind, scope, rng, root), author, Truth(kind, breaking=breaking))
                index += 1
            repo.git("checkout", "-q", "main")
            repo.git(
                "merge", "-q", "--no-ff", "-m", f"Merge pull request #{pr} from acme/{branch}", branch, author=author
            )
            repo.truth[repo.git("rev-parse", "HEAD")] = Truth(None, "merge", author=author, subject=f"Merge #{pr}")
        elif draw < 0.22:  # a squash merge; sometimes its branch reached main too
            pr += 1
            message, kind, breaking = conventional_message(rng)
            scope = rng.choice(SCOPES)
            paths = files_for(kind, scope, rng, root)
            if rng.random() < 0.3:
                branch = f"squashed-{pr}"
                repo.git("checkout", "-q", "-b", branch)
                change = f"pull request {pr}\n"
                repo.commit("wip", paths, author, Truth(None, "squash duplicate"), content=change)
                repo.git("checkout", "-q", "main")
                header = message.splitlines()[0]  # a squash keeps the header only: a "!" still breaks
                truth = Truth(kind, breaking="!:" in header)
                repo.commit(f"{header} (#{pr})", paths, author, truth, content=change)
                repo.git(
                    "merge",
                    "-q",
                    "--no-ff",
                    "-m",
                    f"Merge pull request #{pr} from acme/{branch}",
                    branch,
                    author=author,
                )
                repo.truth[repo.git("rev-parse", "HEAD")] = Truth(None, "merge", author=author, subject=f"Merge #{pr}")
            else:
                first, _, rest = message.partition("\n")
                repo.commit(f"{first} (#{pr}){_ + rest if rest else ''}", paths, author, Truth(kind, breaking=breaking))
        else:
            message, kind, breaking = conventional_message(rng) if draw < 0.62 else free_form_message(rng)
            scope = rng.choice(SCOPES)
            truth = Truth(kind, breaking=breaking)
            if rng.random() < 0.04:
                helper = rng.choice(people_at(index))
                message += f"\n\nCo-authored-by: {helper[0]} <{helper[1]}>"
            recent.append(repo.commit(message, files_for(kind, scope, rng, root, unique=index), author, truth))
        index += 1
        if index % 60 == 0:
            if monorepo:
                for service in ("api", "web"):
                    tag = f"{service}-v1.{index // 60}.0"
                    repo.git("tag", "-a", tag, "-m", tag)
                    tags.append(tag)
            else:
                tag = f"v0.{index // 60}.0"
                repo.git("tag", "-a", tag, "-m", tag)
                tags.append(tag)
            recent.clear()
    return repo, tags


# --- running both tools ----------------------------------------------------------------------------------------


def cliff_config(directory: Path) -> Path:
    subprocess.run(["git-cliff", "--init"], cwd=directory, capture_output=True, check=True)
    return directory / "cliff.toml"


def run_cliff(config: Path, repo: Path, start: str | None, end: str, path: str | None) -> list[dict]:
    command = ["git-cliff", "--config", str(config), "--repository", str(repo), "--context"]
    if path:  # a monorepo service: its files and its own tags (git-cliff's tag pattern is a regex)
        command += ["--include-path", f"{path}/**", "--tag-pattern", f"^{path.rsplit('/', 1)[-1]}-v"]
    if start:
        command.append(f"{start}..{end}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr)
    releases = json.loads(done.stdout or "[]")
    if not start:  # from the first commit: git-cliff takes no one-sided range, so read the release that ends at `end`
        releases = [r for r in releases if r.get("version") == end]
    return [c for release in releases for c in release["commits"]]


def cliff_type(commit: dict) -> str:
    group = commit.get("group") or "Other"
    name = group.split("-->")[-1].strip()
    name = name.split(" ", 1)[1] if " " in name and not name[0].isalnum() else name
    return CLIFF_GROUPS.get(name, "other")


def same_type(truth: str, cliff: str) -> bool:
    return truth in cliff.split("|")


@dataclass
class Figures:
    ranges: int = 0
    truth_changes: int = 0
    adjutant_listed: int = 0
    cliff_listed: int = 0
    adjutant_right: int = 0
    cliff_right: int = 0
    leave_out: int = 0
    adjutant_left_out: int = 0
    cliff_left_out: int = 0
    same: int = 0
    both_listed: int = 0
    breaking_truth: int = 0
    breaking_adjutant: int = 0
    breaking_cliff: int = 0
    breaking_adjutant_wrong: int = 0
    breaking_cliff_wrong: int = 0
    new_truth: int = 0
    new_adjutant_right: int = 0
    new_cliff_right: int = 0
    disagreements: Counter[str] = field(default_factory=Counter)


async def compare_range(
    label: str,
    repo_path: Path,
    config: Path,
    start: str | None,
    end: str,
    *,
    truth: dict[str, Truth] | None,
    first_release_of: dict[str, int] | None,
    path: str | None = None,
    figures: Figures,
    cliff_history: dict[str, str] | None = None,
    quiet: bool = False,
) -> None:
    notes = await generate(GitRepository(repo_path), RangeRequest(start, end, path=path), name=repo_path.name)
    ours = {sha: change for change in notes.facts.changes for sha in change.commits}
    cliff = {c["id"]: c for c in run_cliff(config, repo_path, start, end, path)}
    figures.ranges += 1
    print(f"\n=== {label}: {start or 'first commit'}..{end}{f' path {path}' if path else ''}")
    print(
        f"commits in range: {notes.facts.commits_seen}; Adjutant lists {len(notes.facts.changes)}, git-cliff {len(cliff)}"
    )
    in_range = set(ours) | set(cliff) | {d.sha for d in notes.facts.dropped}
    same = sum(1 for sha in set(ours) & set(cliff) if same_type(ours[sha].type, cliff_type(cliff[sha])))
    both = len(set(ours) & set(cliff))
    figures.same += same
    figures.both_listed += both
    print(f"listed by both: {both}; classified the same: {same}")
    lines: list[str] = []
    subjects = (
        {d.sha: d.subject for d in notes.facts.dropped}
        | {sha: ch.description for sha, ch in ours.items()}
        | {sha: c["message"].splitlines()[0] for sha, c in cliff.items()}
    )
    for sha in sorted(in_range, key=lambda s: list(truth).index(s) if truth and s in truth else 0):
        mine = ours[sha].type if sha in ours else None
        theirs = cliff_type(cliff[sha]) if sha in cliff else None
        fact = truth.get(sha) if truth else None
        if fact is not None and fact.why_absent == "bot (policy)":
            if (mine is None) != (theirs is None):
                lines.append(
                    f"  {sha[:8]} {subjects.get(sha, '')[:60]!r}: Adjutant={mine} git-cliff={theirs} → policy (bot)"
                )
                figures.disagreements["bot policy"] += 1
            continue
        if fact is not None and fact.type is not None:
            figures.truth_changes += 1
            figures.adjutant_listed += mine is not None
            figures.cliff_listed += theirs is not None
            figures.adjutant_right += mine == fact.type
            figures.cliff_right += theirs is not None and same_type(fact.type, theirs)
        elif fact is not None:
            figures.leave_out += 1
            figures.adjutant_left_out += mine is None
            figures.cliff_left_out += theirs is None
        agree = (mine is None and theirs is None) or (
            mine is not None and theirs is not None and same_type(mine, theirs)
        )
        if agree:
            continue
        if fact is None:  # no recorded truth: the real repository
            right = "Adjutant (git-cliff omits a change the range made)" if theirs is None else "unknown"
        else:
            wanted = fact.type or f"absent ({fact.why_absent})"
            a_ok = (mine == fact.type) if fact.type else mine is None
            c_ok = (theirs is not None and same_type(fact.type, theirs)) if fact.type else theirs is None
            right = (
                "both wrong"
                if not (a_ok or c_ok)
                else "Adjutant"
                if a_ok and not c_ok
                else "git-cliff"
                if c_ok and not a_ok
                else "both"
            )
            right = f"{right} (truth: {wanted})"
        figures.disagreements[right.split(" (")[0]] += 1
        lines.append(f"  {sha[:8]} {subjects.get(sha, '')[:60]!r}: Adjutant={mine} git-cliff={theirs} → right: {right}")
    ours_breaking = {sha for sha, ch in ours.items() if ch.breaking}
    cliff_breaking = {sha for sha, c in cliff.items() if c.get("breaking")}
    print(f"breaking: Adjutant {len(ours_breaking)}, git-cliff {len(cliff_breaking)}", end="")
    figures.breaking_adjutant += len(ours_breaking)
    figures.breaking_cliff += len(cliff_breaking)
    if truth is not None:
        real = {sha for sha in in_range if truth.get(sha) and truth[sha].breaking and truth[sha].type}
        figures.breaking_truth += len(real)
        figures.breaking_adjutant_wrong += len(ours_breaking ^ real)
        figures.breaking_cliff_wrong += len(cliff_breaking ^ real)
        print(f", truth {len(real)}; Adjutant misses {len(real - ours_breaking)} and adds {len(ours_breaking - real)}, "
              f"git-cliff misses {len(real - cliff_breaking)} and adds {len(cliff_breaking - real)}")  # fmt: skip
        for sha in sorted((real ^ ours_breaking) | (real ^ cliff_breaking)):
            lines.append(
                f"  breaking {sha[:8]} {subjects.get(sha, '')[:50]!r}: Adjutant={sha in ours_breaking} "
                f"git-cliff={sha in cliff_breaking} truth={sha in real}"
            )
    else:
        print()
    our_people = [p.name for p in notes.facts.contributors.all]
    our_new = [p.name for p in notes.facts.contributors.new]
    cliff_people = list(dict.fromkeys(c["author"]["name"] for c in cliff.values()))
    cliff_new = [name for name in cliff_people if cliff_history is not None and cliff_history.get(name) == end]
    print(f"contributors: Adjutant {len(our_people)} {our_people}; git-cliff {len(cliff_people)} {cliff_people}")
    print(
        f"new contributors: Adjutant {our_new}; git-cliff (derived) {cliff_new if cliff_history is not None else 'n/a'}"
    )
    if truth is not None and first_release_of is not None:
        authors = [truth[sha].author for sha in in_range if truth.get(sha) and truth[sha].type and truth[sha].author]
        real_new = sorted({a[0] for a in authors if first_release_of.get(a[0]) == end})
        figures.new_truth += len(real_new)
        figures.new_adjutant_right += sorted(our_new) == real_new
        figures.new_cliff_right += sorted(cliff_new) == real_new
        print(f"new contributors, truth: {real_new} → Adjutant {'right' if sorted(our_new) == real_new else 'WRONG'}, "
              f"git-cliff {'right' if sorted(cliff_new) == real_new else 'wrong'}")  # fmt: skip
    print(f"disagreements: {len(lines)}")
    if not quiet:
        print("\n".join(lines))


def root_of(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--max-parents=0", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.split()[0]


def first_releases(repo: Path, tags: list[str], truth: dict[str, Truth] | None) -> dict[str, str]:
    """Person -> the first release (tag) whose range holds a commit of theirs, from git's whole history. Ranges
    start after the root commit (git-cliff takes only two-sided ranges), whose author is known from the start."""
    root = root_of(repo)
    author = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%aN", root], capture_output=True, text=True, check=True
    )
    first: dict[str, str] = {author.stdout.strip(): "root"}
    previous = root
    for tag in tags:
        spec = f"{previous}..{tag}"
        for line in subprocess.run(
            ["git", "-C", str(repo), "log", "--reverse", "--format=%H%x1f%aN", spec],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines():
            sha, name = line.split("\x1f")
            if truth is not None and (truth.get(sha) is None or truth[sha].why_absent in ("bot (policy)",)):
                continue
            first.setdefault(name, tag)
        previous = tag
    return first


def cliff_first_releases(config: Path, repo: Path, tags: list[str], path: str | None) -> dict[str, str]:
    first: dict[str, str] = {}
    previous = root_of(repo)
    for tag in tags:
        for commit in run_cliff(config, repo, previous, tag, path):
            first.setdefault(commit["author"]["name"], tag)
        previous = tag
    return first


def summary(name: str, figures: Figures) -> None:
    print(f"\n##### {name}: {figures.ranges} ranges")
    if figures.truth_changes:
        print(f"changes that belong in the notes: {figures.truth_changes}; listed: Adjutant {figures.adjutant_listed}, "
              f"git-cliff {figures.cliff_listed}; listed with the right type: Adjutant {figures.adjutant_right}, "
              f"git-cliff {figures.cliff_right}")  # fmt: skip
        print(f"commits to leave out (merges, reverted pairs, squash duplicates): {figures.leave_out}; left out: "
              f"Adjutant {figures.adjutant_left_out}, git-cliff {figures.cliff_left_out}")  # fmt: skip
    print(f"listed by both {figures.both_listed}, classified the same {figures.same}")
    print(f"breaking: Adjutant {figures.breaking_adjutant}, git-cliff {figures.breaking_cliff}", end="")
    if figures.breaking_truth:
        print(f", truth {figures.breaking_truth}; wrong calls: Adjutant {figures.breaking_adjutant_wrong}, "
              f"git-cliff {figures.breaking_cliff_wrong}")  # fmt: skip
    else:
        print()
    if figures.new_truth:
        print(f"ranges whose new contributors are right: Adjutant {figures.new_adjutant_right}/{figures.ranges}, "
              f"git-cliff (derived) {figures.new_cliff_right}/{figures.ranges}")  # fmt: skip
    print("disagreements by who is right: " + ", ".join(f"{k} {v}" for k, v in figures.disagreements.most_common()))


def own_ranges(own: Path) -> tuple[str | None, list[str]]:
    """This repository's releases: its tags, else thirds of its history from the root (git-cliff needs two-sided
    ranges, so the root commit itself is in neither tool's notes)."""
    shas = subprocess.run(
        ["git", "-C", str(own), "rev-list", "--reverse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.split()
    tags = subprocess.run(
        ["git", "-C", str(own), "tag", "--merged", "HEAD", "--sort=creatordate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if tags:
        return None, tags
    return shas[0], [shas[len(shas) // 3], shas[2 * len(shas) // 3], shas[-1]]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--commits", type=int, default=360)
    parser.add_argument("--quiet", action="store_true", help="Counts only, not every disagreement.")
    args = parser.parse_args()
    if shutil.which("git-cliff") is None:
        sys.exit("git-cliff is not installed: uv sync (it is a dev dependency)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rn-bench-") as scratch:
        root = Path(scratch)
        config = cliff_config(root)

        own = Path(__file__).resolve().parents[1]
        start, points = own_ranges(own)
        figures = Figures()
        previous = start
        for point in points:
            await compare_range(
                "this repository",
                own,
                config,
                previous,
                point,
                truth=None,
                first_release_of=None,
                figures=figures,
                quiet=args.quiet,
            )
            previous = point
        summary("this repository's history", figures)

        rng = random.Random(args.seed)
        project, project_tags = build_project(root / "project", args.commits, rng)
        first = first_releases(project.path, project_tags, project.truth)
        cliff_first = cliff_first_releases(config, project.path, project_tags, None)
        figures = Figures()
        previous = root_of(project.path)
        for tag in project_tags:
            await compare_range("generated project", project.path, config, previous, tag, truth=project.truth,
                                first_release_of=first, figures=figures, cliff_history=cliff_first, quiet=args.quiet)  # fmt: skip
            previous = tag
        summary(f"generated project ({args.commits} commits, seed {args.seed})", figures)

        mono, mono_tags = build_project(
            root / "mono", args.commits // 2 * 2, random.Random(args.seed + 1), monorepo=True
        )
        figures = Figures()
        for service in ("api", "web"):
            service_tags = [t for t in mono_tags if t.startswith(f"{service}-")]
            truth = {
                sha: t
                for sha, t in mono.truth.items()
                if not t.paths or any(p.startswith(f"services/{service}/") for p in t.paths)
            }
            first = first_releases(mono.path, service_tags, mono.truth)
            cliff_first = cliff_first_releases(config, mono.path, service_tags, f"services/{service}")
            previous = root_of(mono.path)
            for tag in service_tags:
                await compare_range(f"monorepo {service}", mono.path, config, previous, tag, truth=truth, first_release_of=first,
                                    path=f"services/{service}", figures=figures, cliff_history=cliff_first, quiet=args.quiet)  # fmt: skip
                previous = tag
        summary("generated monorepo (per-service ranges)", figures)
    print(f"\n(bench took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
