"""The daily stale pull-request digest: every open pull request of the repository (read page by page from the
platform) idle for `stale_after_days`, with its age, author and our review's state, posted to the
repository's Slack channel; open pull requests with recent activity and closed ones are left out. Run by a
team's schedule as `review.stale_digest`, or now by `adjutant review digest REPO`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.db.models import Integration
from app.db.repositories import pr_reviews as store
from app.db.repositories.identity import get_or_create_team
from app.integrations.connections import ConnectionInput
from app.review.pr.service import review_kit
from tests.api.scripted_models import Script
from tests.fakes import gitlab_server as gl
from tests.fakes.github_data import FakePull
from tests.fakes.slack_server import FakeSlack
from tests.review.notify.conftest import CHANNEL, Notified
from tests.review.pr.conftest import KEYS, review_settings
from tests.review.pr.test_cli import adjutant

NOW = datetime.now(UTC)


def _ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_the_digest_lists_only_stale_open_pull_requests_across_pages(notified: Notified):
    notified.rules(f'slack_channel = "{CHANNEL}"\nstale_after_days = 3\n')
    repo = notified.deployment.scenario.repo
    repo.pulls[7].created_at = _ago(1)  # the scenario's pull request: active yesterday
    for number in range(10, 130):  # 120 fresh ones first: the stale ones are on the second page
        repo.pulls[number] = FakePull(number, f"fresh {number}", f"f{number}", "a" * 40, created_at=_ago(0))
    repo.pulls[1] = FakePull(1, "old <b>work</b> & more", "old", "c" * 40, author="grace", created_at=_ago(10))
    repo.pulls[2] = FakePull(2, "forgotten draft", "draft", "d" * 40, author="alan", draft=True, created_at=_ago(5))
    repo.pulls[3] = FakePull(3, "closed long ago", "gone", "e" * 40, state="closed", created_at=_ago(30))
    repo.pulls[4] = FakePull(4, "just under", "edge", "f" * 40, created_at=_ago(2))
    # Our records of #1: reviewed, changes requested, one comment still open.
    connection = await Integration.get(public_id=notified.deployment.connection_id)
    team = notified.deployment.team_id
    pull = await store.pull_for(team, connection.id, "acme/shop", 1, title="old", author="grace", url="u")
    run = await store.start_run(pull, head_sha="c" * 40, trigger="webhook", posting=True, job_id=None)
    await store.finish_run(run, "COMPLETED")
    await store.record_reviewed(pull, head_sha="c" * 40, summary_comment_id=None, approval_state="CHANGES_REQUESTED")
    values = {"path": "a.py", "line": 1, "end_line": 1, "severity": "high", "category": "bug", "commit_sha": "c" * 40}
    for fingerprint, state in (("f1", "POSTED"), ("f2", "RESOLVED")):
        row = await store.claim_comment(pull, run, {"fingerprint": fingerprint, "title": fingerprint, **values})
        await store.update_comment(row, state=state)

    queued = await notified.deployment.service.app.ctx.jobs.enqueue(
        "review.stale_digest", {"connection": "github-main", "repository": "acme/shop"}, None, team
    )
    (job,) = await notified.finished("review.stale_digest")
    assert job.id == queued.id and job.status == "SUCCEEDED", job.last_error
    assert job.result["stale"] == 2
    pages = [r.query.get("page") for r in notified.deployment.scenario.fake.seen("GET", r"/repos/acme/shop/pulls$")]
    assert ["2"] in pages  # the second page was read

    (posted,) = notified.posts()
    text = json.dumps(posted["blocks"])
    assert "2 stale pull request(s) in acme/shop" in posted["text"] and "of 124 open" in text
    assert "#1 old &lt;b&gt;work&lt;/b&gt; &amp; more" in text and "<b>" not in text
    assert "by grace: opened 10d ago, idle 10d, changes requested, 1 open finding(s)" in text
    assert "#2 forgotten draft" in text and "(draft) by alan" in text and "not reviewed" in text
    for absent in ("fresh", "closed long ago", "just under", "#7 "):
        assert absent not in text
    assert text.index("#1 ") < text.index("#2 ")  # the longest idle first


async def test_the_digest_is_schedulable_and_its_payload_checked(notified: Notified):
    api = notified.deployment.api
    bad = await api(
        "POST",
        "/v1/schedules",
        json={
            "name": "d",
            "kind": "review.stale_digest",
            "cron": "0 9 * * 1-5",
            "time_zone": "Europe/Berlin",
            "payload": {"connection": "github-main"},
        },
    )
    assert bad.status_code == 422 and "repository" in bad.text
    good = await api(
        "POST",
        "/v1/schedules",
        json={
            "name": "d",
            "kind": "review.stale_digest",
            "cron": "0 9 * * 1-5",
            "time_zone": "Europe/Berlin",
            "payload": {"connection": "github-main", "repository": "acme/shop"},
        },
    )
    assert good.status_code in (200, 201), good.text


async def test_adjutant_review_digest_prints_and_posts_a_gitlab_digest(database_url, redis_url, db, tmp_path):
    gitlab, slack = gl.FakeGitLab(), FakeSlack()
    gitlab.start()
    slack.start()
    try:
        project = gitlab.add_project("acme/shop")
        rules = f'[review.notify]\nslack_channel = "{CHANNEL}"\nstale_after_days = 4\n'
        project.files["main"] = {".adjutant.toml": rules.encode()}
        for iid, days, state in ((1, 9, "opened"), (2, 1, "opened"), (3, 20, "merged")):
            mr = gl.merge_request(project, iid, f"mr {iid}", state=state, author="ada", created_at=_ago(days))
            project.merge_requests.append(mr)
        team = await get_or_create_team("core")
        settings = review_settings(database_url, redis_url, Script(tmp_path, "reviewer"))
        async with review_kit(settings, redis=None) as kit:
            for kind, name, url, token in (
                ("gitlab", "gl", gitlab.url, gl.TOKEN),
                ("slack", "sl", slack.url + "/api", slack.token),
            ):
                await kit.connections.add(
                    team.id, None, ConnectionInput(kind=kind, name=name, base_url=url, credentials={"token": token})
                )
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"secrets": {"keys": KEYS}, "integrations": {"allowed_hosts": ["127.0.0.1"]}}))

        shown = adjutant(
            "digest",
            "acme/shop",
            "--connection",
            "gl",
            "--team",
            "core",
            "--json",
            database_url=database_url,
            config=config,
        )
        assert shown.returncode == 0, shown.stderr
        digest = json.loads(shown.stdout)
        assert [p["number"] for p in digest["stale"]] == [1] and digest["stale_after_days"] == 4
        assert digest["stale"][0]["author"] == "ada" and digest["stale"][0]["idle_days"] == 9
        assert slack.calls("chat.postMessage") == []

        posted = adjutant(
            "digest",
            "acme/shop",
            "--connection",
            "gl",
            "--team",
            "core",
            "--post",
            database_url=database_url,
            config=config,
        )
        assert posted.returncode == 0, posted.stderr
        assert "1 stale pull request(s) in acme/shop" in posted.stdout and "posted to C0GENERAL" in posted.stdout
        assert len(slack.channels[CHANNEL]) == 1

        reported = adjutant(
            "report",
            "acme/shop",
            "--connection",
            "gl",
            "--team",
            "core",
            "--days",
            "30",
            "--json",
            database_url=database_url,
            config=config,
        )
        assert reported.returncode == 0, reported.stderr
        assert json.loads(reported.stdout) | {"since": "", "until": ""} == {
            "repository": "acme/shop",
            "days": 30,
            "since": "",
            "until": "",
            "reviews_run": 0,
            "reviews_failed": 0,
            "pull_requests_reviewed": 0,
            "comments_posted": 0,
            "comments_by_severity": {},
            "comments_by_category": {},
            "comments_resolved": 0,
            "comments_ignored": 0,
            "approvals": 0,
            "changes_requested": 0,
            "top_files": [],
            "precision": {},
        }

        wrong = adjutant(
            "digest", "acme/shop", "--connection", "sl", "--team", "core", database_url=database_url, config=config
        )
        assert wrong.returncode == 1 and "not GitHub, GitLab or Bitbucket" in wrong.stderr
    finally:
        gitlab.stop()
        slack.stop()
