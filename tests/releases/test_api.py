"""Release notes over HTTP: a range of an indexed repository becomes a draft through a job; a person's edit is a
revision; a maintainer approves and publishes it to a GitHub release, a CHANGELOG.md pull request, a GitLab
release and Slack (fakes speaking their real APIs); every id is the caller's team's."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from app.db.models import ReleaseNote, Repository, Team, User
from app.db.repositories import identity
from tests.conftest import make_settings, start_service, stop_service
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.slack_server import FakeSlack

SECRET_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()
GITHUB_TOKEN = "ghp_fake0123456789abcdefTOKEN"
SLACK_TOKEN = "xoxb-1111-2222-releases"


@pytest.fixture
async def running(database_url, redis_url):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "secrets.keys": SECRET_KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            "integrations.max_retries": 0,
            "jobs.poll_ms": 50,
        },
    )
    service = await start_service(settings)
    yield service
    await stop_service(service)


@pytest.fixture
def fakes():
    with FakeGitHub(token=GITHUB_TOKEN) as github, FakeGitLab() as gitlab, FakeSlack(token=SLACK_TOKEN) as slack:
        github.add_repo("acme/app").add_file("CHANGELOG.md", "# Changelog\n\n## app v0.1.0\n\n- First.\n")
        gitlab.add_project("acme/app")
        yield github, gitlab, slack


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


async def team_of(email: str) -> tuple[int, int]:
    user = await User.get(email=email)
    membership = (await identity.team_members((await Team.get(name="core")).id))[0]
    return user.id, membership.team_id


async def indexed(team_id: int, path, name: str = "app") -> Repository:
    return await Repository.create(team_id=team_id, name=name, source=str(path), source_kind="local", status="READY")


async def finished(service, token, job_id: int) -> dict:
    for _ in range(400):
        job = (await call(service, "GET", f"/v1/jobs/{job_id}", token)).json()["data"]
        if job["status"] in ("SUCCEEDED", "FAILED", "DEAD"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def draft(service, token, repository_id: int, **body) -> dict:
    asked = await call(service, "POST", f"/v1/repositories/{repository_id}/release-notes", token, json=body)
    assert asked.status_code == 202, asked.text
    job = await finished(service, token, asked.json()["data"]["job_id"])
    assert job["status"] == "SUCCEEDED", job
    return job["result"]


async def connect(service, token, body: dict) -> None:
    added = await call(service, "POST", "/v1/integrations", token, json=body)
    assert added.status_code == 201, added.text


async def test_a_range_becomes_a_draft_that_a_maintainer_approves_and_publishes(running, fakes, app_repo):
    github, gitlab, slack = fakes
    repo, shas = app_repo
    admin = await running.issue_token("admin@example.com")
    member = await running.issue_token("member@example.com")
    maintainer = await running.issue_token("maintainer@example.com")
    maintainer_id, team_id = await team_of("maintainer@example.com")
    await identity.set_membership_role(maintainer_id, team_id, "maintainer")
    repository = await indexed(team_id, repo.path)

    result = await draft(running, member, repository.id, from_ref="v0.1.0", to_ref="v0.2.0", use_model=False)
    note_id = result["release_note_id"]
    shown = (await call(running, "GET", f"/v1/release-notes/{note_id}", member)).json()["data"]
    assert shown["status"] == "draft" and shown["version"] == "v0.2.0" and shown["generator"] == "deterministic"
    assert shown["from_sha"] == repo.git("rev-parse", "v0.1.0^{commit}") and shown["revision"] == 1
    assert "## ⚠ Breaking changes (action needed)" in shown["external_md"] and "## New" in shown["external_md"]
    assert "**api:** add an export endpoint" in shown["internal_md"]
    assert {c["commits"][0] for c in shown["facts"]["changes"]} >= {shas["export"], shas["crash"]}
    assert [r["source"] for r in shown["revisions"]] == ["generated"]
    listed = (await call(running, "GET", f"/v1/release-notes?repository_id={repository.id}", member)).json()["data"]
    assert [n["id"] for n in listed["release_notes"]] == [note_id]

    # A person's edit is a new revision; what was generated stays in the history.
    edited_external = shown["external_md"].replace("# app v0.2.0", "# App 0.2 — the export release")
    edit = await call(
        running,
        "PUT",
        f"/v1/release-notes/{note_id}",
        member,
        json={"internal_md": shown["internal_md"], "external_md": edited_external, "note": "a friendlier title"},
    )
    assert edit.status_code == 200, edit.text
    edited = edit.json()["data"]
    assert edited["revision"] == 2 and edited["external_md"] == edited_external
    assert [(r["revision"], r["source"], r["note"]) for r in edited["revisions"]] == [
        (1, "generated", None),
        (2, "edit", "a friendlier title"),
    ]
    assert edited["revisions"][0]["external_md"] == shown["external_md"]

    publish_github = {"target": "github_release", "connection": "gh", "repo": "acme/app"}
    early = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=publish_github)
    assert early.status_code == 409 and early.json()["error"]["message"] == "RELEASE_NOTES_STATE_INVALID"
    refused = await call(running, "POST", f"/v1/release-notes/{note_id}/approve", member)
    assert refused.status_code == 403
    assert (await ReleaseNote.get(id=note_id)).status == "draft"
    approved = await call(running, "POST", f"/v1/release-notes/{note_id}/approve", maintainer)
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["status"] == "approved" and approved.json()["data"]["approved_by"] == maintainer_id
    again = await call(running, "POST", f"/v1/release-notes/{note_id}/approve", maintainer)
    assert again.status_code == 409
    stored = await ReleaseNote.get(id=note_id)
    assert stored.embedding is not None and stored.embedding_model  # kept for the voice of later notes

    await connect(
        running, admin, {"kind": "github", "name": "gh", "base_url": github.url, "credentials": {"token": GITHUB_TOKEN}}
    )
    await connect(
        running, admin, {"kind": "gitlab", "name": "gl", "base_url": gitlab.url, "credentials": {"token": GITLAB_TOKEN}}
    )
    await connect(
        running,
        admin,
        {"kind": "slack", "name": "sl", "base_url": slack.url + "/api", "credentials": {"token": SLACK_TOKEN}},
    )
    by_member = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", member, json=publish_github)
    assert by_member.status_code == 403 and not github.repos["acme/app"].releases

    published = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=publish_github)
    assert published.status_code == 200, published.text
    data = published.json()["data"]
    (release,) = github.repos["acme/app"].releases
    assert release["tag_name"] == "v0.2.0" and release["body"] == edited_external and release["name"] == "app v0.2.0"
    assert data["published"] is True and data["publication"]["url"] == release["html_url"]
    assert data["release_notes"]["status"] == "published" and data["release_notes"]["published_at"]
    twice = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=publish_github)
    assert twice.json()["data"]["published"] is False and len(github.repos["acme/app"].releases) == 1

    changelog = {"target": "changelog_pr", "connection": "gh", "repo": "acme/app", "base": "main"}
    pr = (await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=changelog)).json()
    (pull,) = github.repos["acme/app"].pulls.values()
    branch = f"adjutant/release-notes-{note_id}"
    assert pull.head_ref == branch and pull.base_ref == "main" and pr["data"]["publication"]["number"] == pull.number
    text = github.repos["acme/app"].files[branch]["CHANGELOG.md"].decode()
    assert text.startswith("# Changelog\n\n## App 0.2 — the export release\n") and "### New" in text
    assert text.rstrip().endswith("## app v0.1.0\n\n- First.")  # the earlier entries stay, below

    to_gitlab = {"target": "gitlab_release", "connection": "gl", "repo": "acme/app"}
    gl = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=to_gitlab)
    assert gl.status_code == 200, gl.text
    (gl_release,) = gitlab.projects["acme/app"].releases
    assert gl_release["tag_name"] == "v0.2.0" and gl_release["description"] == edited_external
    assert gl_release["commit"]["id"] == repo.git("rev-parse", "v0.2.0^{commit}")  # a new tag at the range's end

    to_slack = {"target": "slack", "connection": "sl", "channel": "C0GENERAL"}
    posted = await call(running, "POST", f"/v1/release-notes/{note_id}/publish", maintainer, json=to_slack)
    assert posted.status_code == 200, posted.text
    (message,) = slack.channels["C0GENERAL"]
    assert message["text"].startswith("# App 0.2 — the export release")
    (notice,) = slack.replies[("C0GENERAL", message["ts"])]
    assert "changed no documentation" in notice["text"] and "fuzzy matching" in notice["text"]
    assert "Alice Archer" in notice["text"] and "export endpoint" not in notice["text"]
    final = (await call(running, "GET", f"/v1/release-notes/{note_id}", member)).json()["data"]
    assert [p["target"] for p in final["publications"]] == ["github_release", "changelog_pr", "gitlab_release", "slack"]
    late_edit = await call(
        running, "PUT", f"/v1/release-notes/{note_id}", member, json={"internal_md": "x", "external_md": "y"}
    )
    assert late_edit.status_code == 409


async def test_another_teams_repository_notes_and_connections_answer_like_unknown_ones(running, fakes, app_repo):
    repo, _ = app_repo
    owner = await running.issue_token("owner@example.com", team="core")
    stranger = await running.issue_token("stranger@example.com", team="other")
    _, team_id = await team_of("owner@example.com")
    repository = await indexed(team_id, repo.path)
    result = await draft(running, owner, repository.id, from_ref="v0.2.0", to_ref="v0.3.0", use_model=False)
    note_id = result["release_note_id"]
    unknown = await call(running, "GET", "/v1/release-notes/999999", stranger)
    foreign = await call(running, "GET", f"/v1/release-notes/{note_id}", stranger)
    assert foreign.status_code == unknown.status_code == 404 and foreign.json() == unknown.json()
    for method, path, body in [
        ("POST", f"/v1/repositories/{repository.id}/release-notes", {}),
        ("PUT", f"/v1/release-notes/{note_id}", {"internal_md": "x", "external_md": "y"}),
        ("POST", f"/v1/release-notes/{note_id}/approve", None),
        ("POST", f"/v1/release-notes/{note_id}/publish", {"target": "slack", "connection": "sl", "channel": "C0X"}),
    ]:
        answer = await call(running, method, path, stranger, json=body)
        assert answer.status_code == 404, (path, answer.text)
    assert (await call(running, "GET", "/v1/release-notes", stranger)).json()["data"]["release_notes"] == []
    # The owner's own connection reference must exist too; bad input changes nothing and queues no job.
    jobs_before = (await call(running, "GET", "/v1/jobs", owner)).json()["data"]["jobs"]
    for body in [
        {"scm": {"connection": "nope", "repo": "acme/app"}},
        {"from_ref": "--upload-pack=touch /tmp/x"},
        {"path": "../etc"},
        {"tag_pattern": "v* --all"},
        {"to_ref": 5},
    ]:
        answer = await call(running, "POST", f"/v1/repositories/{repository.id}/release-notes", owner, json=body)
        assert answer.status_code in (404, 422), (body, answer.text)
    assert (await call(running, "GET", "/v1/jobs", owner)).json()["data"]["jobs"] == jobs_before
    missing = await call(
        running, "POST", f"/v1/repositories/{repository.id}/release-notes", owner, json={"from_ref": "v9"}
    )
    job = await finished(running, owner, missing.json()["data"]["job_id"])
    assert job["status"] == "FAILED" or job["status"] == "DEAD"
    assert "no commit 'v9'" in job["last_error"]
    assert json.dumps(job).count("release_note_id") == 0
