"""Feedback sent through `POST /v1/feedback` with no model configured: every message is its own candidate, a
topic three people raised becomes a draft carrying the evidence only, approval opens it in Linear and
Linear's completed state resolves it. Bad input is refused and stores nothing; another team's tickets and
runs answer exactly like unknown ones."""

from __future__ import annotations

import time

from app.db.models import DocTicket, FeedbackMessage, JobRecord
from tests.feedback.conftest import Deployment

PARAPHRASES = [
    ("ada", "The Windows install guide skips adding the binary to PATH"),
    ("bob", "Windows installation docs forget the PATH step, command not found"),
    ("carol", "After installing on Windows the docs never explain adding it to PATH"),
]


async def send(d: Deployment, text: str, author: str | None = None, **extra) -> object:
    return await d.api("POST", "/v1/feedback", json={"text": text, "author": author, **extra})


async def test_sent_feedback_without_a_model_becomes_a_linear_ticket_that_a_webhook_resolves(
    plain_deployment: Deployment,
):
    d = plain_deployment
    await d.connect("linear", "linear", d.fakes.linear.url, {"token": d.fakes.linear.api_key}, default_team="ENG")
    for index, (author, text) in enumerate(PARAPHRASES):
        answer = await send(
            d, text, author, source_url=f"https://support.example.com/t/{index}", external_id=f"t-{index}"
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["data"]["stored"] is True
    again = await send(d, "a different text, the same ticket", "ada", external_id="t-0")
    assert again.status_code == 200 and again.json()["data"] == {"stored": False, "message_id": None}
    one_person = [await send(d, "Rate limits of the search API are undocumented", "dan") for _ in range(3)]
    assert [a.json()["data"]["stored"] for a in one_person] == [True, False, False]  # same author, same words
    await send(d, "Search API limits: how many requests per minute?", "dan")
    await send(d, "lunch anyone?", "erin")

    result = await d.run()
    # Dan's two messages cluster but come from one person: not significant.
    assert (result["clusters"], result["significant"], result["tickets_created"]) == (2, 1, 1)
    clusters = (await d.api("GET", "/v1/feedback/clusters")).json()["data"]["clusters"]
    assert sorted((c["size"], c["people"], c["significant"]) for c in clusters) == [(2, 1, False), (3, 3, True)]

    [draft] = (await d.api("GET", "/v1/feedback/tickets")).json()["data"]["tickets"]
    assert draft["status"] == "draft" and draft["suggestion"] is None  # no model: evidence and links only
    assert draft["title"] in {text for _, text in PARAPHRASES}
    assert "3 messages from 3 people" in draft["summary"]
    detail = (await d.api("GET", f"/v1/feedback/tickets/{draft['id']}")).json()["data"]
    assert sorted(e["author"] for e in detail["evidence"]) == ["ada", "bob", "carol"]
    assert {e["url"] for e in detail["evidence"]} == {f"https://support.example.com/t/{i}" for i in range(3)}

    approved = await d.api("POST", f"/v1/feedback/tickets/{draft['id']}/approve")
    assert approved.status_code == 200, approved.text
    ticket = approved.json()["data"]
    assert (ticket["tracker"], ticket["external_id"], ticket["status"]) == ("linear", "ENG-1", "open")
    issue = d.fakes.linear.issues["ENG-1"]
    assert issue["title"] == draft["title"]
    assert "**Evidence:** 3 messages from 3 people." in issue["description"]
    assert "[api](https://support.example.com/t/1)" in issue["description"]
    assert "No page covers this yet" in issue["description"]

    body = {
        "type": "Issue",
        "action": "update",
        "data": {"id": issue["id"], "identifier": "ENG-1", "state": {"name": "Done", "type": "completed"}},
    }
    job = await d.webhook("linear", "linear", body | {"webhookTimestamp": _now_ms()})
    assert job.result["status"] == "resolved" and job.result["notified"] == 0  # sent by API: nowhere to answer
    stored = await DocTicket.get(id=draft["id"])
    assert (stored.status, stored.external_status) == ("resolved", "Done")
    reopened = body | {"data": body["data"] | {"state": {"name": "In Progress", "type": "started"}}}
    await d.webhook("linear", "linear", reopened | {"webhookTimestamp": _now_ms()})
    assert (await DocTicket.get(id=draft["id"])).status == "open"
    # A Linear issue that is not a documentation ticket is only recorded.
    other = body | {"data": {"id": "x", "identifier": "ENG-99", "state": {"type": "completed"}}}
    job = await d.webhook("linear", "linear", other | {"webhookTimestamp": _now_ms()})
    assert job.result["recorded"] is True and job.result["feedback"] == "not a documentation ticket"


async def test_bad_feedback_is_refused_and_stores_nothing(plain_deployment: Deployment):
    d = plain_deployment
    for body in (
        {"text": "   "},
        {"text": ""},
        {"text": "x" * 8001},
        {"text": "ok", "source_url": "javascript:alert(1)"},
        {"text": "ok", "external_id": "has spaces in it"},
        {"text": "ok", "unexpected": True},
        {"author": "ada"},
    ):
        answer = await d.api("POST", "/v1/feedback", json=body)
        assert answer.status_code == 422, (body, answer.text)
    assert await FeedbackMessage.all().count() == 0
    unauthenticated = await d.service.request("POST", "/v1/feedback", client_headers=False, json={"text": "hi"})
    assert unauthenticated.json()["error"]["message"] == "NOT_VERIFIED"
    assert await FeedbackMessage.all().count() == 0


async def test_another_teams_tickets_and_runs_answer_like_unknown_ones(plain_deployment: Deployment):
    d = plain_deployment
    for author, text in PARAPHRASES:
        await send(d, text, author)
    result = await d.run()
    [draft] = (await d.api("GET", "/v1/feedback/tickets")).json()["data"]["tickets"]
    outsider = await d.service.issue_token(email="mallory@example.com", team="other")  # admin of their own team
    for method, template in (
        ("GET", "/v1/feedback/tickets/{ticket}"),
        ("POST", "/v1/feedback/tickets/{ticket}/approve"),
        ("POST", "/v1/feedback/tickets/{ticket}/reject"),
        ("GET", "/v1/feedback/runs/{run}"),
    ):
        path = template.format(ticket=draft["id"], run=result["run_id"])
        foreign = await d.api(method, path, token=outsider)
        unknown = await d.api(method, template.format(ticket=999999, run=999999), token=outsider)
        assert foreign.status_code == unknown.status_code == 404, (path, foreign.text)
        assert foreign.json()["error"] == unknown.json()["error"]
    for path in ("/v1/feedback/tickets", "/v1/feedback/clusters", "/v1/feedback/runs"):
        listed = (await d.api("GET", path, token=outsider)).json()["data"]
        assert all(not items for items in listed.values()), path
    assert (await d.api("GET", "/v1/feedback/tickets/abc")).status_code == 404
    assert (await d.api("GET", "/v1/feedback/tickets?status=nonsense")).status_code == 422

    # Rejecting a draft keeps it (its topic is not drafted again) and it can no longer be approved.
    rejected = await d.api("POST", f"/v1/feedback/tickets/{draft['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["data"]["status"] == "rejected"
    assert (await d.api("POST", f"/v1/feedback/tickets/{draft['id']}/approve")).status_code == 409
    await send(d, "Windows docs: the PATH step is missing from the install guide", "dave")
    later = await d.run()
    assert later["tickets_created"] == 0 and await DocTicket.all().count() == 1
    # No tracker connection: approving a draft says what is missing, and nothing changes.
    await DocTicket.filter(id=draft["id"]).update(status="draft")
    refused = await d.api("POST", f"/v1/feedback/tickets/{draft['id']}/approve")
    assert refused.status_code == 422 and "no Jira or Linear connection" in refused.text
    assert (await DocTicket.get(id=draft["id"])).status == "draft"
    assert await JobRecord.filter(kind="feedback.run").count() == 2


def _now_ms() -> int:
    return int(time.time() * 1000)
