"""Jobs and schedules over HTTP and the CLI: a team sees, retries and removes only its own; another team's job
or schedule answers exactly like one that does not exist, and refusing it changes nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from tortoise import Tortoise
from typer.testing import CliRunner

from app.cli.main import cli
from app.db.connection import close_database, open_database
from app.db.models import JobRecord, Schedule
from app.db.repositories import jobs as job_store
from app.db.repositories.identity import get_or_create_team
from tests.conftest import make_settings, start_service, stop_service
from tests.jobs.conftest import FAST_JOBS, eventually

KIND = "webhook.github"  # a kind every service runs; its default handler records the event


@pytest.fixture
async def api(database_url, redis_url):
    service = await start_service(make_settings(database_url, redis_url, **FAST_JOBS))
    yield service
    await stop_service(service)


async def call(service, method, path, token, **kwargs):
    return await service.request(method, path, token=token, client_headers=False, **kwargs)


async def dead_job(service, team_name: str, key: str) -> JobRecord:
    """A job of the team that has died (as after its attempts ran out)."""
    team = await get_or_create_team(team_name)
    job = await service.app.ctx.jobs.enqueue(KIND, {"event": "push", "body": {}}, key, team.id)
    await eventually(lambda: JobRecord.filter(id=job.id, status="SUCCEEDED").exists())
    await Tortoise.get_connection("default").execute_query(
        "UPDATE jobs SET status = 'DEAD', last_error = 'gave up', finished_at = now() WHERE id = $1", [job.id]
    )
    return await JobRecord.get(id=job.id)


async def test_a_team_lists_reads_and_retries_only_its_own_jobs(api):
    mine, theirs = await api.issue_token("a@example.com", "alpha"), await api.issue_token("b@example.com", "beta")
    job = await dead_job(api, "alpha", "d-1")
    listed = (await call(api, "GET", "/v1/jobs", mine)).json()["data"]
    assert [j["id"] for j in listed["jobs"]] == [job.id] and listed["next_before_id"] is None
    assert listed["jobs"][0]["status"] == "DEAD" and "payload" not in listed["jobs"][0]
    assert (await call(api, "GET", "/v1/jobs", theirs)).json()["data"]["jobs"] == []

    shown = (await call(api, "GET", f"/v1/jobs/{job.id}", mine)).json()["data"]
    assert shown["payload"] == {"event": "push", "body": {}} and shown["last_error"] == "gave up"
    foreign = await call(api, "GET", f"/v1/jobs/{job.id}", theirs)
    unknown = await call(api, "GET", "/v1/jobs/999999", theirs)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() and foreign.json()["error"]["message"] == "JOB_NOT_FOUND"

    refused = await call(api, "POST", f"/v1/jobs/{job.id}/retry", theirs)
    assert (
        refused.status_code == 404
        and refused.json() == (await call(api, "POST", "/v1/jobs/999999/retry", theirs)).json()
    )
    assert (await JobRecord.get(id=job.id)).status == "DEAD", "a refused retry changes nothing"

    retried = await call(api, "POST", f"/v1/jobs/{job.id}/retry", mine)
    assert retried.status_code == 202 and retried.json()["data"]["status"] == "QUEUED"
    again = await eventually(lambda: JobRecord.filter(id=job.id, status="SUCCEEDED").first())
    assert again.attempts == 1 and again.result["recorded"] is True
    twice = await call(api, "POST", f"/v1/jobs/{job.id}/retry", mine)
    assert twice.status_code == 409 and twice.json()["error"]["message"] == "JOB_NOT_RETRYABLE"


async def test_the_job_list_pages_and_filters(api):
    token = await api.issue_token("a@example.com", "alpha")
    team = await get_or_create_team("alpha")
    ids = [(await api.app.ctx.jobs.enqueue(KIND, {"event": "push", "n": n}, f"k{n}", team.id)).id for n in range(5)]
    for job_id in ids:
        await eventually(lambda j=job_id: JobRecord.filter(id=j, status="SUCCEEDED").exists())
    await Tortoise.get_connection("default").execute_query("UPDATE jobs SET status = 'DEAD' WHERE id = $1", [ids[0]])
    seen, before = [], None
    while True:
        params = {"limit": 2} | ({"before_id": before} if before else {})
        page = (await call(api, "GET", "/v1/jobs", token, params=params)).json()["data"]
        seen += [j["id"] for j in page["jobs"]]
        before = page["next_before_id"]
        if before is None:
            break
    assert seen == ids[::-1]
    dead = (await call(api, "GET", "/v1/jobs", token, params={"status": "DEAD"})).json()["data"]["jobs"]
    assert [j["id"] for j in dead] == [ids[0]]
    other = (await call(api, "GET", "/v1/jobs", token, params={"kind": "repository.reindex"})).json()["data"]
    assert other["jobs"] == []
    assert (await call(api, "GET", "/v1/jobs", token, params={"status": "LOST"})).status_code == 422
    assert (await call(api, "GET", "/v1/jobs", token, params={"limit": 0})).status_code == 422


async def test_a_team_adds_lists_and_removes_only_its_own_schedules(api):
    mine, theirs = await api.issue_token("a@example.com", "alpha"), await api.issue_token("b@example.com", "beta")
    body = {
        "name": "nightly",
        "kind": "repository.reindex",
        "cron": "0 3 * * *",
        "time_zone": "Europe/Berlin",
        "payload": {"repository": "shop"},
    }
    created = await call(api, "POST", "/v1/schedules", mine, json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()["data"]
    assert schedule["next_run_at"].endswith(("01:00:00+00:00", "02:00:00+00:00")), "03:00 in Berlin, in UTC"
    assert (await call(api, "POST", "/v1/schedules", mine, json=body)).status_code == 409
    for wrong, field in (
        ({"kind": "webhook.github"}, "cannot be scheduled"),
        ({"cron": "every night"}, "five fields"),
        ({"cron": "0 3 * * * *"}, "five fields"),
        ({"time_zone": "Mars/Olympus"}, "IANA"),
        ({"time_zone": "../../etc/passwd"}, "IANA"),
        ({"payload": {"repository": "../x"}}, "payload"),
    ):
        refused = await call(api, "POST", "/v1/schedules", mine, json=body | {"name": "other"} | wrong)
        assert refused.status_code == 422 and field in refused.text, (wrong, refused.text)
    assert await Schedule.all().count() == 1

    assert [s["name"] for s in (await call(api, "GET", "/v1/schedules", mine)).json()["data"]] == ["nightly"]
    assert (await call(api, "GET", "/v1/schedules", theirs)).json()["data"] == []
    foreign = await call(api, "DELETE", f"/v1/schedules/{schedule['id']}", theirs)
    unknown = await call(api, "DELETE", "/v1/schedules/999999", theirs)
    assert foreign.status_code == unknown.status_code == 404 and foreign.json() == unknown.json()
    assert await Schedule.all().count() == 1
    removed = await call(api, "DELETE", f"/v1/schedules/{schedule['id']}", mine)
    assert removed.status_code == 200 and await Schedule.all().count() == 0


async def test_health_and_metrics_show_the_job_backend_and_queues(api):
    team = await get_or_create_team("alpha")
    job = await api.app.ctx.jobs.enqueue(KIND, {"event": "push"}, "m1", team.id)
    await eventually(lambda: JobRecord.filter(id=job.id, status="SUCCEEDED").exists())
    await Tortoise.get_connection("default").execute_query("UPDATE jobs SET status = 'DEAD' WHERE id = $1", [job.id])
    health = (await api.request("GET", "/health", client_headers=False)).json()
    assert health["checks"]["jobs"]["ok"] and health["checks"]["jobs"]["backend"] == "redis"
    text = (await api.request("GET", "/metrics", client_headers=False)).text
    assert 'adjutant_jobs_dead_letters{kind="webhook.github"} 1.0' in text
    assert 'adjutant_jobs_queue_depth{kind="webhook.github"} 0.0' in text
    assert 'adjutant_job_wait_seconds_count{kind="webhook.github"}' in text
    assert "adjutant_jobs_enqueued_total" in text and "adjutant_job_duration_seconds_bucket" in text


def test_the_cli_shows_and_retries_only_the_teams_jobs(database_url, redis_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings = make_settings(database_url, redis_url)

    async def seed() -> int:
        await open_database(database_url, settings.database)
        try:
            alpha, _ = await get_or_create_team("alpha"), await get_or_create_team("beta")
            job, _ = await job_store.insert_or_get(
                team_id=alpha.id, kind=KIND, payload={"event": "push"}, idempotency_key="c-1", max_attempts=3
            )
            await Tortoise.get_connection("default").execute_query(
                "UPDATE jobs SET status = 'DEAD', attempts = 3, last_error = 'gave up' WHERE id = $1", [job.id]
            )
            return job.id
        finally:
            await close_database()

    async def read(job_id: int) -> tuple[str, int]:
        await open_database(database_url, settings.database)
        try:
            job = await JobRecord.get(id=job_id)
            return job.status, job.attempts
        finally:
            await close_database()

    job_id = asyncio.run(seed())
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    listed = run("jobs", "list", "--team", "alpha", "--json")
    assert listed.exit_code == 0 and [j["id"] for j in json.loads(listed.stdout)] == [job_id]
    assert json.loads(run("jobs", "list", "--team", "beta", "--json").stdout) == []
    assert json.loads(run("jobs", "show", str(job_id), "--team", "alpha").stdout)["payload"] == {"event": "push"}
    foreign = run("jobs", "show", str(job_id), "--team", "beta")
    assert foreign.exit_code == 2 and "job not found" in foreign.stderr
    refused = run("jobs", "retry", str(job_id), "--team", "beta")
    assert refused.exit_code == 2 and "job not found" in refused.stderr
    assert asyncio.run(read(job_id)) == ("DEAD", 3), "a refused retry changes nothing"
    retried = run("jobs", "retry", str(job_id), "--team", "alpha")
    assert retried.exit_code == 0 and "QUEUED" in retried.stdout
    assert asyncio.run(read(job_id)) == ("QUEUED", 0)

    added = run(
        "schedules", "add", "weekly", "--kind", "repository.reindex", "--cron", "0 6 * * 1",
        "--payload", '{"repository": "shop"}', "--team", "alpha",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    schedule_id = added.stdout.split()[1]
    assert "weekly" in run("schedules", "list", "--team", "alpha").stdout
    assert "weekly" not in run("schedules", "list", "--team", "beta").stdout
    assert run("schedules", "remove", schedule_id, "--team", "beta").exit_code == 2
    assert run("schedules", "remove", schedule_id, "--team", "alpha").exit_code == 0
    bad = run("schedules", "add", "x", "--kind", "repository.reindex", "--cron", "nope", "--team", "alpha",
              "--payload", '{"repository": "shop"}')  # fmt: skip
    assert bad.exit_code == 2 and "five fields" in bad.stderr
    unfit = run("schedules", "add", "x", "--kind", "repository.reindex", "--cron", "0 6 * * 1", "--team", "alpha")
    assert unfit.exit_code == 2 and "payload.repository" in unfit.stderr
