"""The repositories the release-notes tests share, each built once per session with the `git` command."""

from __future__ import annotations

import pytest

from tests.releases.git_repos import BOB, CAROL, DAVE, DEPENDABOT, ERIN, Repo


@pytest.fixture(scope="session")
def app_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, dict[str, str]]:
    """Three releases of one project; `shas` names the commits the tests look for."""
    repo = Repo(tmp_path_factory.mktemp("app") / "app")
    shas: dict[str, str] = {}
    repo.commit("chore: initial layout", {"README.md": "# app\n", "src/app.py": "x = 1\n"})
    shas["first"] = repo.commit("feat: greet the user", {"src/greet.py": "def greet(): ...\n"})
    repo.tag("v0.1.0")
    # --- v0.2.0 ------------------------------------------------------------------------------------------------
    shas["export"] = repo.commit(
        "feat(api): add an export endpoint\n\nRefs PROJ-101.", {"src/api.py": "def export(): ...\n", "docs/api.md": "x"}
    )
    shas["crash"] = repo.commit("fix(cli): no crash on empty input\n\nFixes #3", {"src/cli.py": "a\n"}, author=BOB)
    shas["bang"] = repo.commit("feat!: drop support for Python 3.8", {"pyproject.toml": "py39\n"})
    shas["footer"] = repo.commit(
        "refactor: move the loader\n\nBREAKING CHANGE: `load()` is now `io.load()`;\nupdate your imports.",
        {"src/io.py": "def load(): ...\n"},
        author=BOB,
    )
    shas["typo"] = repo.commit(
        f"Fix the greeting's typo\n\nCo-authored-by: {DAVE[0]} <{DAVE[1]}>", {"src/greet.py": "hi\n"}, author=CAROL
    )
    shas["colours"] = repo.commit("Widget colours are calmer", {"src/widget.css": "blue\n"}, author=BOB)
    shas["flaky"] = repo.commit("feat: a flaky idea", {"src/flaky.py": "1\n"})
    shas["flaky_revert"] = repo.revert(shas["flaky"])
    shas["bump"] = repo.commit(
        "build(deps): bump requests from 2.0 to 2.1", {"requirements.txt": "r\n"}, author=DEPENDABOT
    )
    shas["old_revert"] = repo.commit(
        f'Revert "feat: greet the user"\n\nThis reverts commit {shas["first"]}.', {"src/greet.py": ""}
    )
    # A pull request merged with a merge commit: its commits keep their own lines, cited by SHA, linked to #7.
    repo.branch("search")
    shas["fuzzy"] = repo.commit("feat(search): fuzzy matching", {"src/search.py": "def fuzzy(q): return q\n"})
    shas["fuzzy_tests"] = repo.commit("test(search): cover fuzzy matching", {"tests/test_search.py": "x\n"})
    repo.checkout("main")
    shas["merge7"] = repo.merge("search", "Merge pull request #7 from acme/search")
    # A squash merge whose branch was also merged: one item, the squash commit.
    repo.branch("dark")
    shas["dark_wip"] = repo.commit("wip dark mode", {"src/theme.py": "dark\n"})
    repo.checkout("main")
    shas["dark_squash"] = repo.commit("feat(ui): dark mode (#9)", {"src/theme.py": "dark\n"})
    repo.merge("dark", "Merge pull request #9 from acme/dark")
    shas["helper"] = repo.commit(
        "feat: a helper for callers", {"src/helper.py": 'def helper():\n    """Help the caller."""\n'}
    )
    repo.tag("v0.2.0")
    # --- v0.3.0: maintenance only ------------------------------------------------------------------------------
    repo.commit("docs: clarify the README", {"README.md": "# app\nmore\n"}, author=BOB)
    repo.commit("ci: cache dependencies", {".github/workflows/ci.yml": "on: push\n"}, author=ERIN)
    repo.commit("test: more cases", {"tests/test_more.py": "x\n"}, author=BOB)
    repo.tag("v0.3.0")
    shas["perf"] = repo.commit("perf: faster start-up", {"src/app.py": "x = 2\n"}, author=ERIN)
    return repo, shas
