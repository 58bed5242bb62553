"""Webhook intake on a running service: each platform's signed delivery becomes a job that the embedded worker
runs; a bad signature, a replay, an oversized or malformed body is refused and queues nothing; an unknown event
is accepted, ignored and counted."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from app.db.models import JobRecord
from app.db.repositories.identity import get_or_create_team
from app.integrations.connections import ConnectionInput
from tests.conftest import RunningService, make_settings, start_service, stop_service
from tests.fakes.webhook_senders import PLATFORMS, Delivery, delivery
from tests.jobs.conftest import FAST_JOBS, eventually

KEYS = "test:" + base64.b64encode(bytes(range(32))).decode()
SECRET = "whsec-test-secret-1"
MAX_BYTES = 4096
CREDENTIALS = {"jira": {"email": "bot@example.com", "api_token": "t0ken"}}


@dataclass
class Hooks:
    service: RunningService
    paths: dict[str, str]  # platform -> webhook path
    team_id: int

    async def post(self, sent: Delivery, *, path: str | None = None, headers: dict | None = None):
        return await self.service.request(
            "POST",
            path or self.paths[sent.platform],
            client_headers=False,
            headers={"Content-Type": "application/json", **sent.headers, **(headers or {})},
            content=sent.body,
        )


@pytest.fixture
async def hooks(database_url, redis_url):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            **FAST_JOBS,
            "secrets.keys": KEYS,
            "integrations.allowed_hosts": ["127.0.0.1"],
            "jobs.webhook_max_bytes": MAX_BYTES,
        },
    )
    service = await start_service(settings)
    team = await get_or_create_team("core")
    paths = {}
    for platform in PLATFORMS:
        view = await service.app.ctx.connections.add(
            team.id,
            None,
            ConnectionInput(
                kind=platform,
                name=f"{platform}-main",
                base_url="http://127.0.0.1:9",
                credentials=CREDENTIALS.get(platform, {"token": "t0ken"}),
                webhook_secret=SECRET,
            ),
        )
        paths[platform] = view.webhook_path
    yield Hooks(service, paths, team.id)
    await stop_service(service)


def counted(platform: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("adjutant_webhooks_total", {"platform": platform, "outcome": outcome}) or 0


async def test_each_platforms_signed_delivery_is_queued_and_run(hooks: Hooks):
    for platform in PLATFORMS:
        sent = delivery(platform, SECRET)
        before = counted(platform, "accepted")
        started = time.perf_counter()
        answer = await hooks.post(sent)
        assert answer.status_code == 202, (platform, answer.text)
        assert time.perf_counter() - started < 1.0
        data = answer.json()["data"]
        assert (data["accepted"], data["event"]) == (True, sent.event), platform
        job = await JobRecord.get(id=data["job_id"])
        assert (job.kind, job.team_id) == (f"webhook.{platform}", hooks.team_id)
        assert (job.payload["event"], job.payload["action"]) == (sent.event, sent.action), platform
        assert job.payload["body"] == json.loads(sent.body)
        assert counted(platform, "accepted") == before + 1

    # Slack: interactions and slash commands arrive as forms; its url_verification is answered, not queued.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    payload = b"payload=" + json.dumps({"type": "block_actions", "actions": []}).encode().replace(b" ", b"+")
    answer = await hooks.post(delivery("slack", SECRET, raw=payload), headers=form)
    assert answer.status_code == 202 and answer.json()["data"]["event"] == "block_actions", answer.text
    command = delivery("slack", SECRET, raw=b"command=%2Fdeploy&text=now&team_id=T1")
    answer = await hooks.post(command, headers=form)
    assert answer.status_code == 202 and answer.json()["data"]["event"] == "slash_command", answer.text
    assert (await JobRecord.get(id=answer.json()["data"]["job_id"])).payload["action"] == "/deploy"
    challenge = delivery("slack", SECRET, body={"type": "url_verification", "token": "x", "challenge": "3eZbrw1aB"})
    answer = await hooks.post(challenge)
    assert answer.status_code == 200 and answer.json() == {"challenge": "3eZbrw1aB"}
    forged = delivery("slack", "wrong", body={"type": "url_verification", "challenge": "3eZbrw1aB"})
    assert (await hooks.post(forged)).status_code == 401

    jobs = await JobRecord.filter(kind__startswith="webhook.")
    assert len(jobs) == len(PLATFORMS) + 2
    for job in jobs:  # run by the service's own worker, recorded by the default handler
        done = await eventually(lambda j=job: _succeeded(j.id))
        assert done.result["recorded"] is True and done.result["event"] == done.payload["event"]


async def _succeeded(job_id: int) -> JobRecord | None:
    job = await JobRecord.get(id=job_id)
    return job if job.status == "SUCCEEDED" else None


async def test_an_unknown_event_is_accepted_ignored_and_counted(hooks: Hooks):
    sent = delivery("github", SECRET)
    sent.headers["X-GitHub-Event"] = "sponsorship"
    labels = {"platform": "github", "event": "sponsorship"}
    before = REGISTRY.get_sample_value("adjutant_webhook_events_ignored_total", labels) or 0
    answer = await hooks.post(sent)
    assert answer.status_code == 202
    assert answer.json()["data"] == {"accepted": False, "event": "sponsorship", "job_id": None}
    assert await JobRecord.all().count() == 0
    assert REGISTRY.get_sample_value("adjutant_webhook_events_ignored_total", labels) == before + 1


async def test_a_forged_oversized_or_malformed_delivery_or_an_unknown_hook_queues_nothing(hooks: Hooks):
    for platform in PLATFORMS:
        forged = delivery(platform, "not-the-secret")
        answer = await hooks.post(forged)
        assert answer.status_code == 401, (platform, answer.text)
        assert answer.json()["error"]["message"] == "WEBHOOK_SIGNATURE_INVALID"
        unsigned = delivery(platform, SECRET)
        for name in (
            "X-Hub-Signature-256",
            "X-Hub-Signature",
            "X-Gitlab-Token",
            "Linear-Signature",
            "X-Slack-Signature",
        ):
            unsigned.headers.pop(name, None)
        assert (await hooks.post(unsigned)).status_code == 401, platform
        if platform != "gitlab":  # GitLab's token does not cover the body: the others' signatures do
            tampered = delivery(platform, SECRET)
            tampered.body = tampered.body.replace(b"}", b', "x": 1}', 1)
            assert (await hooks.post(tampered)).status_code == 401, platform

    big = delivery("github", SECRET, body={"action": "opened", "filler": "x" * MAX_BYTES})
    answer = await hooks.post(big)
    assert answer.status_code == 413 and answer.json()["error"]["message"] == "PAYLOAD_TOO_LARGE"

    not_json = delivery("github", SECRET, raw=b"{not json")
    assert (await hooks.post(not_json)).json()["error"]["message"] == "WEBHOOK_MALFORMED"
    assert (await hooks.post(delivery("jira", SECRET, raw=b"[1, 2]"))).status_code == 400
    assert (await hooks.post(delivery("jira", SECRET, body={"issue": {}}))).status_code == 400  # no webhookEvent
    no_header = delivery("github", SECRET)
    del no_header.headers["X-GitHub-Event"]
    assert (await hooks.post(no_header)).status_code == 400
    assert (await hooks.post(delivery("github", SECRET, delivery_id="../../etc"))).status_code == 400
    no_stamp = delivery("linear", SECRET, body={"type": "Issue", "action": "create"})
    assert (await hooks.post(no_stamp)).status_code == 401

    sent = delivery("github", SECRET)
    unknown = await hooks.post(sent, path="/v1/webhooks/github/" + "A" * 32)
    hook_id = hooks.paths["github"].rsplit("/", 1)[1]
    elsewhere = await hooks.post(delivery("gitlab", SECRET), path=f"/v1/webhooks/gitlab/{hook_id}")
    no_platform = await hooks.post(sent, path=f"/v1/webhooks/gitea/{hook_id}")
    assert unknown.status_code == elsewhere.status_code == no_platform.status_code == 404
    assert unknown.json() == elsewhere.json() == no_platform.json()

    assert await JobRecord.all().count() == 0
    assert counted("github", "bad_signature") >= 3 and counted("github", "too_large") == 1


async def test_a_delivery_is_taken_once_and_one_the_queue_could_not_take_can_be_sent_again(hooks: Hooks, monkeypatch):
    for platform in PLATFORMS:
        sent = delivery(platform, SECRET)
        assert (await hooks.post(sent)).status_code == 202
        again = await hooks.post(sent)
        assert again.status_code == 409 and again.json()["error"]["message"] == "WEBHOOK_REPLAYED", platform
    # Linear and Slack sign a time: an old one is refused even with a new delivery id.
    assert (await hooks.post(delivery("linear", SECRET, timestamp=time.time() - 120))).status_code == 401
    assert (await hooks.post(delivery("slack", SECRET, timestamp=time.time() - 600))).status_code == 401
    assert await JobRecord.all().count() == len(PLATFORMS)

    async def down(message):
        raise ConnectionError("the transport is away")

    sent = delivery("github", SECRET)
    monkeypatch.setattr(hooks.service.app.ctx.jobs.backend, "publish", down)
    refused = await hooks.post(sent)
    assert refused.status_code == 503 and refused.json()["error"]["message"] == "JOB_QUEUE_UNAVAILABLE"
    monkeypatch.undo()
    again = await hooks.post(sent)  # the platform's retry, with the same delivery id
    assert again.status_code == 202, again.text
    job = await eventually(lambda: _succeeded(again.json()["data"]["job_id"]))
    assert job.attempts == 1 and await JobRecord.all().count() == len(PLATFORMS) + 1


def test_signatures_are_checked_as_each_platform_documents():
    """Known-answer vectors: GitHub's documented example and Slack's signing-secret example."""
    from app.api.webhooks.signatures import verify

    # docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody", body "Hello, World!".
    github = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify("github", {"x-hub-signature-256": github}, b"Hello, World!", "It's a Secret to Everybody", 0)
    # api.slack.com, "Verifying requests from Slack".
    slack_body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    verify("slack", headers, slack_body, "8f742231b10e8888abcd99yyyzzz85a5", 1531420618 + 10)
