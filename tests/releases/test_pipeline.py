"""Release notes from real git histories: extraction, cleaning, classification, breaking changes, contributors
across consecutive releases, documentation flags and both rendered variants — all without a model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from app.db.models import Repository, Team
from app.errors import ReleaseRangeInvalid
from app.integrations.github import GitHubClient
from app.integrations.runtime import IntegrationRuntime
from app.releases.git import GitRepository
from app.releases.pull_requests import enricher
from app.releases.service import RangeRequest, ReleaseNotes, generate
from app.releases.sources import history_of
from app.search.service import SearchService
from tests.conftest import make_settings
from tests.fakes.git_server import GitHTTPServer
from tests.fakes.github_data import FakePull
from tests.fakes.github_server import FakeGitHub
from tests.integrations.conftest import connection, integration_settings
from tests.releases.git_repos import ALICE, BOB, CAROL, DAVE, ERIN, Repo


async def notes_of(repo: Repo, **request: object) -> ReleaseNotes:
    return await generate(GitRepository(repo.path), RangeRequest(**request), name="app")  # type: ignore[arg-type]


def by_description(notes: ReleaseNotes) -> dict[str, object]:
    return {c.description: c for c in notes.facts.changes}


async def test_a_release_is_classified_cleaned_and_flagged(app_repo):
    repo, shas = app_repo
    notes = await notes_of(repo, from_ref="v0.1.0", to_ref="v0.2.0")
    changes = by_description(notes)
    facts = notes.facts
    assert facts.range.version == "v0.2.0" and facts.range.from_sha == repo.git("rev-parse", "v0.1.0^{commit}")

    export = changes["add an export endpoint"]
    assert (export.type, export.scope, export.classified_by) == ("feat", "api", "conventional")
    assert export.issue_keys == ["PROJ-101"] and export.documentation_changed
    assert changes["no crash on empty input"].issue_keys == ["#3"]
    typo = changes["Fix the greeting's typo"]
    assert (typo.type, typo.classified_by) == ("fix", "keyword")
    assert [p.name for p in typo.authors] == [CAROL[0], DAVE[0]]
    other = changes["Widget colours are calmer"]
    assert (other.type, other.classified_by) == ("other", "none")
    assert changes['Revert "feat: greet the user"'].type == "revert"  # reverts a change released earlier

    dropped = {d.sha: d.reason for d in facts.dropped}
    assert dropped[shas["flaky"]].startswith("reverted by") and shas["flaky_revert"] in dropped
    assert dropped[shas["bump"]].startswith("bot author")
    assert dropped[shas["merge7"]] == "merge commit"
    assert dropped[shas["dark_wip"]] == f"squashed into {shas['dark_squash'][:8]} of #9"
    kept = {sha for c in facts.changes for sha in c.commits}
    assert not kept & set(dropped)
    assert len(facts.changes) + len(facts.dropped) == facts.commits_seen

    # The merged pull request's two commits are cited by SHA and linked to #7; the squash commit is #9.
    assert changes["fuzzy matching"].ref == shas["fuzzy"][:8] and changes["fuzzy matching"].pr == 7
    assert changes["cover fuzzy matching"].pr == 7
    assert changes["dark mode"].ref == "#9"
    refs = [c.ref for c in facts.changes]
    assert len(refs) == len(set(refs))

    assert {c.description for c in facts.breaking} == {"drop support for Python 3.8", "move the loader"}
    assert changes["move the loader"].breaking_note == "`load()` is now `io.load()`; update your imports."
    assert changes["drop support for Python 3.8"].breaking_note == "drop support for Python 3.8"
    # Features: the export has docs, the helper a docstring; the others have neither.
    assert [c.description for c in facts.undocumented] == ["drop support for Python 3.8", "fuzzy matching", "dark mode"]


async def test_both_variants_say_the_same_facts_to_their_audience(app_repo):
    repo, shas = app_repo
    notes = await notes_of(repo, from_ref="v0.1.0", to_ref="v0.2.0")
    internal, external = notes.internal, notes.external
    for change in notes.facts.changes:
        assert internal.count(f"({change.ref})") == 1, change.ref
    assert "## ⚠ Breaking changes" in internal and "**feat:** drop support for Python 3.8" in internal
    assert "**api:** add an export endpoint" in internal and "PROJ-101" in internal
    assert "Widget colours are calmer" in internal and "## Other changes" in internal
    assert "## Features without documentation" in internal and "- fuzzy matching — Alice Archer [" in internal
    assert "Left out (" in internal and "bot author dependabot[bot]" in internal
    # External: user-facing only, by outcome, in plain words.
    assert "## ⚠ Breaking changes (action needed)" in external
    assert "- `load()` is now `io.load()`; update your imports." in external
    assert "## New" in external and "- Add an export endpoint (#" not in external  # commits, no PR: cited by SHA
    assert f"- Add an export endpoint ({shas['export'][:8]})" in external
    assert "- Dark mode (#9)" in external and "## Fixed" in external and "## Undone" in external
    for hidden in ("cover fuzzy matching", "Widget colours", "bump requests", "a flaky idea", "api:", "PROJ-101"):
        assert hidden not in external
    assert notes.generator == "deterministic" and notes.model is None and notes.polish_reason is None


async def test_new_contributors_across_three_consecutive_releases(app_repo):
    repo, _ = app_repo
    first = await notes_of(repo, to_ref="v0.1.0")
    second = await notes_of(repo, from_ref="v0.1.0", to_ref="v0.2.0")
    third = await notes_of(repo, from_ref="v0.2.0", to_ref="v0.3.0")
    assert first.facts.range.from_sha is None
    assert [p.name for p in first.facts.contributors.new] == [ALICE[0]]
    # Bob has several changes in v0.2.0: listed once. The bot is no contributor; Dave co-authored.
    assert [p.name for p in second.facts.contributors.all] == [ALICE[0], BOB[0], CAROL[0], DAVE[0]]
    assert [p.name for p in second.facts.contributors.new] == [BOB[0], CAROL[0], DAVE[0]]
    assert [p.name for p in third.facts.contributors.all] == [BOB[0], ERIN[0]]
    assert [p.name for p in third.facts.contributors.new] == [ERIN[0]]
    assert "welcome to Bob Baker, Carol Chen and Dave Diaz" in second.external


async def test_a_maintenance_only_release_has_no_user_facing_notes(app_repo):
    repo, _ = app_repo
    notes = await notes_of(repo, from_ref="v0.2.0", to_ref="v0.3.0")
    assert {c.type for c in notes.facts.changes} == {"docs", "ci", "test"}
    assert "No user-facing changes in this release." in notes.external
    assert "## Documentation" in notes.internal and "## Continuous integration" in notes.internal


async def test_an_empty_range_says_so(app_repo):
    repo, _ = app_repo
    notes = await notes_of(repo, from_ref="v0.3.0", to_ref="v0.3.0")
    assert notes.facts.changes == [] and notes.facts.commits_seen == 0
    assert "No changes in this range." in notes.internal and "No changes in this range." in notes.external


async def test_since_the_last_release_starts_at_the_nearest_tag(app_repo):
    repo, shas = app_repo
    head = await notes_of(repo)
    assert head.facts.range.from_ref == "v0.3.0" and head.facts.range.since_last_release
    assert [c.commits[0] for c in head.facts.changes] == [shas["perf"]] and head.facts.range.version is None
    tagged = await notes_of(repo, to_ref="v0.2.0")  # a tag on the end is this release, not the last one
    assert tagged.facts.range.from_ref == "v0.1.0" and tagged.facts.range.version == "v0.2.0"


async def test_refs_that_do_not_exist_or_look_like_options_are_refused(app_repo):
    repo, _ = app_repo
    for bad in ("--output=/tmp/x", "v9.9.9", "a..b"):
        with pytest.raises(ReleaseRangeInvalid):
            await notes_of(repo, from_ref=bad, to_ref="v0.2.0")
    with pytest.raises(ReleaseRangeInvalid, match="not an ancestor"):
        await notes_of(repo, from_ref="v0.3.0", to_ref="v0.1.0")


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("mono") / "mono")
    rules = '[release_notes]\ntag_pattern = "api-v*"\n\n[release_notes.paths]\n"services/api/migrations/**" = "build"\n'
    repo.commit("chore: layout", {".adjutant.toml": rules, "services/api/app.py": "1\n", "services/web/app.js": "1\n"})
    repo.tag("api-v1.0.0")
    repo.commit("feat(web): a new page", {"services/web/page.js": "1\n"})
    repo.tag("web-v1.0.0")
    repo.commit("feat(api): list users", {"services/api/users.py": "1\n"}, author=BOB)
    repo.commit("Tune the users table", {"services/api/migrations/002.sql": "alter\n"})
    repo.commit("fix: shared header", {"services/api/header.py": "1\n", "services/web/header.js": "1\n"})
    repo.commit("fix(web): a web-only fix", {"services/web/fix.js": "1\n"}, author=CAROL)
    repo.tag("api-v1.1.0")
    return repo


async def test_a_monorepo_service_gets_its_own_range_and_changes(monorepo):
    notes = await generate(
        GitRepository(monorepo.path), RangeRequest(to_ref="api-v1.1.0", path="services/api/"), name="api"
    )
    facts = notes.facts
    # The last api release, found by the committed tag pattern, though web-v1.0.0 is nearer.
    assert facts.range.from_ref == "api-v1.0.0" and facts.range.tag_pattern == "api-v*"
    assert facts.range.path == "services/api" and facts.range.version == "api-v1.1.0"
    assert [c.description for c in facts.changes] == ["list users", "Tune the users table", "shared header"]
    assert facts.changes[1].type == "build" and facts.changes[1].classified_by == "path"
    assert facts.commits_seen == 5  # the range before scoping
    assert [p.name for p in facts.contributors.new] == [BOB[0]]
    assert "a new page" not in notes.internal and "web-only" not in notes.internal


def test_the_command_prints_both_variants_and_json_without_a_model(app_repo):
    repo, _ = app_repo
    runner = CliRunner()
    both = runner.invoke(cli, ["release-notes", str(repo.path), "--from", "v0.1.0", "--to", "v0.2.0", "--no-llm"])
    assert both.exit_code == 0, both.output
    assert "# app v0.2.0 — internal notes" in both.output and "\n# app v0.2.0\n" in both.output
    external = runner.invoke(
        cli,
        ["release-notes", str(repo.path), "--from", "v0.1.0", "--to", "v0.2.0", "--audience", "external", "--no-llm"],
    )
    assert "internal notes" not in external.output and "## New" in external.output
    as_json = runner.invoke(
        cli, ["release-notes", str(repo.path), "--from", "v0.2.0", "--to", "v0.3.0", "--format", "json", "--no-llm"]
    )
    data = json.loads(as_json.output)
    assert data["version"] == "v0.3.0" and data["generator"] == "deterministic"
    assert [c["type"] for c in data["facts"]["changes"]] == ["docs", "ci", "test"]
    scoped = runner.invoke(cli, ["release-notes", str(repo.path), "--from", "nope", "--no-llm"])
    assert scoped.exit_code == 2 and "no commit 'nope'" in scoped.output
    url = runner.invoke(cli, ["release-notes", f"file://{repo.path}", "--from", "v0.2.0", "--to", "v0.3.0", "--no-llm"])
    assert url.exit_code == 0 and "# app v0.3.0" in url.output


async def test_a_git_url_repository_is_read_from_a_mirror_of_its_whole_history(
    app_repo, tmp_path, db, database_url, redis_url
):
    repo, shas = app_repo
    served = tmp_path / "served"
    repo.bare_copy(served / "app.git")
    settings = make_settings(
        database_url,
        redis_url,
        **{"search.repos_dir": str(tmp_path / "clones"), "search.git_allowed_hosts": ["127.0.0.1"]},
    )
    search = SearchService(settings)
    with GitHTTPServer(served) as server:
        team = await Team.create(name="mirrors")
        row = await Repository.create(team=team, name="app", source=f"{server.base_url}/app.git", source_kind="git")
        history = await history_of(row, search, timeout_s=60)
        assert history.path == tmp_path / "clones" / str(team.id) / ".history" / "app.git"
        notes = await generate(history, RangeRequest("v0.1.0", "v0.2.0"), name="app")
        assert {c.commits[0] for c in notes.facts.changes} >= {shas["export"], shas["crash"], shas["helper"]}
        # A release made upstream later is fetched into the same mirror.
        work = Repo.clone_of(served / "app.git", tmp_path / "work")
        work.commit("feat: a later feature", {"later.py": "1\n"}, author=ERIN)
        work.tag("v0.4.0")
        work.git("push", "-q", "origin", "main", "v0.4.0")
        again = await history_of(row, search, timeout_s=60)
        later = await generate(again, RangeRequest(to_ref="v0.4.0"), name="app")
    assert later.facts.range.from_ref == "v0.3.0"
    assert [c.description for c in later.facts.changes] == ["faster start-up", "a later feature"]
    assert [p.name for p in later.facts.contributors.new] == []  # Erin's first change was in v0.3.0


async def test_pull_request_labels_and_keys_come_from_the_scm_connection(app_repo):
    repo, _ = app_repo
    runtime = IntegrationRuntime(integration_settings(), redis=None, key_prefix="releases-test:")
    with FakeGitHub(token="ghp_labels") as github:
        forge = github.add_repo("acme/app")
        forge.pulls[9] = FakePull(9, "Dark mode", "dark", "d" * 40, labels=["breaking"], body="Closes PROJ-77")
        client = GitHubClient(connection("github", github.url, {"token": "ghp_labels"}), runtime)
        try:
            notes = await generate(
                GitRepository(repo.path),
                RangeRequest("v0.1.0", "v0.2.0"),
                name="app",
                enrich=enricher(client, "acme/app"),
            )
        finally:
            await client.aclose()
            runtime.close()
        asked = {r.path for r in github.seen("GET", r"/pulls/\d+$")}
    assert asked == {"/api/v3/repos/acme/app/pulls/7", "/api/v3/repos/acme/app/pulls/9"}  # each pull request once
    (dark,) = [c for c in notes.facts.changes if c.ref == "#9"]
    assert dark.labels == ["breaking"] and dark.breaking and dark.breaking_note == "dark mode"
    assert "PROJ-77" in dark.issue_keys
    assert "- Dark mode (#9)" in notes.external.split("## New")[0]  # now in the breaking section
