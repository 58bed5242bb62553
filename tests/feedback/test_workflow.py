"""The feedback workflow end to end over fake Slack, Discord and Jira servers with the scripted model: a planted
week of feedback (three topics in near-duplicate phrasings from different people, noise, one topic that an
open ticket already covers) becomes the expected clusters, one draft per new topic and a comment on the
existing ticket; re-running the same week creates nothing; approving opens the Jira issue with its evidence
and suggestion; a resolution webhook closes the ticket and answers in the Slack threads and the Discord
channel; later feedback on the resolved topic reopens it."""

from __future__ import annotations

from decimal import Decimal

from app.db.models import ChatElement, DocTicket, FeedbackMessage, Schedule, Session, User, UserQuery
from app.search.embeddings import local_embedder
from tests.fakes.jira_server import API_TOKEN, EMAIL, FakeIssue
from tests.feedback.conftest import Deployment, scripted

GENERAL = "175928847299117063"  # the fake Discord server's channel
TOPIC_A = "Jira webhook secret"
TOPIC_B = "search rate limits"
TOPIC_C = "Windows PATH step"
OPEN_TICKET_TITLE = "Windows installation guide misses the PATH step"


def discord_author(message: dict, user_id: str, name: str) -> None:
    message["author"] = {"id": user_id, "username": name.lower(), "discriminator": "0", "global_name": name}


async def plant(d: Deployment) -> dict[str, str]:
    """The week's feedback, in the order a run reads it (chat answers, then Discord, then Slack); the Slack ts of
    the messages the tests follow."""
    user = await User.get(email="ada@example.com")
    session = await Session.create(team_id=d.team_id, user=user, session_type="VSCODE_EXT_SESSION", summary="s")
    query = await UserQuery.create(
        team_id=d.team_id,
        user=user,
        session=session,
        text="What is the rate limit of the search API? Nothing in the docs.",
        model="m",
        fingerprint="f",
        feedback="DOWNVOTE",
    )
    await ChatElement.create(
        team_id=d.team_id,
        session=session,
        user_query=query,
        actor="ASSISTANT",
        message_type="TEXT",
        payload={"text": "I could not find the search API limits."},
    )
    liked = await UserQuery.create(
        team_id=d.team_id,
        user=user,
        session=session,
        text="Thanks, works",
        model="m",
        fingerprint="g",
        feedback="UPVOTE",
    )
    assert liked.id  # an upvoted answer is not feedback about the docs

    discord = d.fakes.discord
    discord_author(
        discord.add_message(GENERAL, "Where does the Jira webhook secret go? The docs don't say"), "901", "Nelly"
    )
    discord_author(discord.add_message(GENERAL, "anyone up for lunch?"), "901", "Nelly")
    discord.add_message(GENERAL, "Deploy finished", bot=True)
    discord_author(discord.add_message(GENERAL, "Windows install: docs forget the PATH step"), "902", "Omar")

    slack = d.fakes.slack
    ts = {}
    ts["a1"] = slack.add_message(
        "C0GENERAL", "Where do I configure the webhook secret for Jira? Not in the docs", user="U0ADA"
    )["ts"]
    slack.add_reply("C0GENERAL", ts["a1"], "same here, gave up", user="U0GRACE")
    slack.add_message("C0GENERAL", "How many requests per minute does the search endpoint allow?", user="U0BOB")
    slack.add_message(
        "C0GENERAL", "Installing on Windows fails, the guide skips adding the binary to PATH", user="U0ADA"
    )
    ts["a2"] = slack.add_message(
        "C0GENERAL", "Jira webhook signature keeps failing, docs don't mention the secret", user="U0CAROL"
    )["ts"]
    slack.add_message("C0GENERAL", "thanks everyone!", user="U0BOB")
    slack.add_message("C0GENERAL", "I hit 429 on code search, the limits page is missing", user="U0DAN")
    slack.add_message("C0GENERAL", "adjutant not found after install on windows, PATH not explained", user="U0ERIN")
    slack.add_message("C0GENERAL", "Nightly build is green", bot=True)
    return ts


def insight(conversation: int, problem: str, missing: str, quote: str) -> dict:
    return {
        "conversation": conversation,
        "problem": problem,
        "tried": "reading the docs",
        "missing": missing,
        "quote": quote,
    }


# Conversations, numbered as the run sends them: 1 chat answer, 2-4 Discord, 5-11 Slack (bots are not read).
INSIGHTS = {
    "insights": [
        insight(
            1, "The rate limits of the search API are not documented", "the limits", "rate limit of the search API"
        ),
        insight(
            2,
            "The docs do not say where to configure the Jira webhook secret",
            "where the secret goes",
            "Jira webhook secret go",
        ),
        insight(
            4,
            "The Windows install guide does not say to add the binary to PATH",
            "the PATH step",
            "docs forget the PATH step",
        ),
        insight(
            5,
            "No documentation on where the Jira webhook secret is set",
            "the secret setting",
            "webhook secret for Jira",
        ),
        insight(6, "The docs do not state the search API rate limit per minute", "the limits", "requests per minute"),
        insight(
            7,
            "The Windows install guide skips the PATH step, so the command is not found",
            "PATH",
            "skips adding the binary to PATH",
        ),
        insight(
            8,
            "The Jira webhook signature setup is undocumented: the secret setting is missing",
            "the secret",
            "an invented quote",
        ),
        insight(
            10,
            "The search API rate limits page is missing, so 429 errors are unexplained",
            "the limits",
            "the limits page is missing",
        ),
        insight(
            11,
            "The Windows install guide never explains adding the binary to PATH",
            "PATH",
            "PATH not explained",
        ),
    ]
}
SUGGEST_A = {
    "title": "Document where the Jira webhook secret is configured",
    "summary": "People setting up Jira webhooks cannot find where the signing secret goes.",
    "outline": "# Jira webhooks\n## Where the secret goes\n## Checking a signature",
}
SUGGEST_B = {
    "title": "Publish the search API rate limits",
    "summary": "Developers hit 429s on code search and the limits are nowhere.",
    "outline": "# Search API limits\n## Requests per minute\n## What a 429 means",
}


async def open_ticket_for_topic_c(d: Deployment) -> DocTicket:
    """A ticket an earlier run opened in Jira (ENG-1) for the Windows topic."""
    d.fakes.jira.add_issue(FakeIssue(key="ENG-1", summary=OPEN_TICKET_TITLE))
    return await DocTicket.create(
        team_id=d.team_id,
        status="open",
        title=OPEN_TICKET_TITLE,
        summary="The Windows guide lacks the PATH step.",
        embedding=local_embedder().embed([OPEN_TICKET_TITLE])[0],
        tracker="jira",
        connection_id=d.connection_ids["jira"],
        external_id="ENG-1",
        external_url=f"{d.fakes.jira.url}/browse/ENG-1",
    )


async def connect_all(d: Deployment) -> None:
    await d.connect(
        "slack", "slack", d.fakes.slack.url + "/api", {"token": d.fakes.slack.token}, channels=["C0GENERAL"]
    )
    await d.connect(
        "discord",
        "discord",
        d.fakes.discord.url + "/api",
        {"token": d.fakes.discord.token},
        guild_id=d.fakes.discord.guild_id,
        channels=[GENERAL],
    )
    await d.connect(
        "jira",
        "jira",
        d.fakes.jira.url,
        {"email": EMAIL, "api_token": API_TOKEN},
        deployment="cloud",
        default_project="ENG",
    )


def by_topic(clusters: list[dict]) -> dict[str, dict]:
    named = {}
    for cluster in clusters:
        text = " ".join(e["problem"] for e in cluster["evidence"]).lower()
        topic = TOPIC_A if "webhook" in text else TOPIC_B if "search" in text else TOPIC_C if "windows" in text else "?"
        assert topic not in named, f"two clusters of {topic}"
        named[topic] = cluster
    return named


async def test_a_planted_week_becomes_drafts_evidence_a_jira_ticket_and_a_closed_loop(deployment: Deployment):
    d = deployment
    await connect_all(d)
    ts = await plant(d)
    existing = await open_ticket_for_topic_c(d)
    # Clusters are drafted largest first, then in the order of their first candidate: B (conversation 1), then A.
    d.script.play(*scripted(INSIGHTS, SUGGEST_B, SUGGEST_A))

    result = await d.run()
    assert result["status"] == "succeeded"
    assert (result["messages_read"], result["clusters"], result["significant"]) == (11, 3, 3)
    assert (result["tickets_created"], result["tickets_updated"]) == (2, 1)
    run = (await d.api("GET", f"/v1/feedback/runs/{result['run_id']}")).json()["data"]
    assert run["read"] == {"chat:answers": 1, f"discord:{GENERAL}": 3, "slack:C0GENERAL": 7}
    assert run["candidates"] == 9 and run["errors"] == []
    assert (run["input_tokens"], run["output_tokens"]) == (3000, 600)
    assert Decimal(run["cost_usd"]) == Decimal("0.0042")
    # The team's first run added its weekly schedule.
    schedules = await Schedule.filter(team_id=d.team_id, kind="feedback.run")
    assert [(s.cron, s.time_zone) for s in schedules] == [("0 6 * * 1", "UTC")]

    # The model was shown each conversation with its thread and the answer that was voted down.
    prompt = d.script.calls()[0]["messages"][0]["parts"][0]["text"]
    assert "Conversation 5 (slack, by u0ada)" in prompt and "u0grace: same here, gave up" in prompt.lower()
    assert "The answer that was voted down:\nI could not find the search API limits." in prompt
    assert "lunch" in prompt and "Deploy finished" not in prompt

    clusters = (await d.api("GET", "/v1/feedback/clusters?significant=true")).json()["data"]["clusters"]
    topics = by_topic(clusters)
    assert set(topics) == {TOPIC_A, TOPIC_B, TOPIC_C}
    for cluster in clusters:
        assert (cluster["size"], cluster["people"], len(cluster["evidence"])) == (3, 3, 3)
    sources_a = sorted(e["source"] for e in topics[TOPIC_A]["evidence"])
    assert sources_a == ["discord", "slack", "slack"]
    quotes_a = {e["quote"] for e in topics[TOPIC_A]["evidence"]}
    # An invented quote is not believed: the message's own words stand in for it.
    assert "an invented quote" not in quotes_a
    assert "Jira webhook signature keeps failing, docs don't mention the secret" in quotes_a

    drafts = (await d.api("GET", "/v1/feedback/tickets?status=draft")).json()["data"]["tickets"]
    assert sorted(t["title"] for t in drafts) == sorted([SUGGEST_A["title"], SUGGEST_B["title"]])
    assert all(t["evidence_count"] == 3 and t["pages"] == [] and t["external_id"] is None for t in drafts)
    draft_a = next(t for t in drafts if t["title"] == SUGGEST_A["title"])
    assert draft_a["suggestion"] == SUGGEST_A["outline"] and draft_a["cluster_id"] == topics[TOPIC_A]["id"]
    assert len(d.fakes.jira.issues) == 1  # drafts wait for approval

    # The topic an open ticket covers became evidence and one comment on it, not a new ticket.
    await existing.refresh_from_db()
    assert existing.evidence_count == 3 and existing.status == "open"
    comments = d.fakes.jira.issues["ENG-1"].comments
    assert len(comments) == 1
    comment_text = str(comments[0]["body"])
    assert "3 new messages" in comment_text and "guide skips adding the binary to PATH" in comment_text

    # Re-running the same week: nothing read, nothing created, nothing commented, no model call.
    calls = len(d.script.calls())
    again = await d.run()
    assert (again["messages_read"], again["tickets_created"], again["tickets_updated"]) == (0, 0, 0)
    assert (again["clusters"], again["significant"]) == (3, 3)
    assert len(d.script.calls()) == calls and len(d.fakes.jira.issues["ENG-1"].comments) == 1
    assert await DocTicket.filter(team_id=d.team_id).count() == 3
    reclustered = (await d.api("GET", "/v1/feedback/clusters?significant=true")).json()["data"]["clusters"]
    assert {c["id"] for c in reclustered} == {c["id"] for c in clusters}
    assert await Schedule.filter(team_id=d.team_id, kind="feedback.run").count() == 1

    # A member may not approve; an admin opens the Jira issue with the evidence and the suggestion.
    refused = await d.api("POST", f"/v1/feedback/tickets/{draft_a['id']}/approve", token=d.member)
    assert refused.status_code == 403
    approved = await d.api("POST", f"/v1/feedback/tickets/{draft_a['id']}/approve", json={"connection": "jira"})
    assert approved.status_code == 200, approved.text
    ticket = approved.json()["data"]
    assert (ticket["status"], ticket["tracker"], ticket["external_id"]) == ("open", "jira", "ENG-2")
    issue = d.fakes.jira.issues["ENG-2"]
    assert issue.summary == SUGGEST_A["title"] and issue.labels == ["documentation"]
    described = str(issue.description)
    assert "3 messages from 3 people" in described and "Where the secret goes" in described
    # Each quote is the insight's (checked against the message), attributed and linked to where it was said.
    assert "webhook secret for Jira" in described and "U0ADA" in described.upper()
    assert "https://acme.slack.com/archives/C0GENERAL/p" in described
    twice = await d.api("POST", f"/v1/feedback/tickets/{draft_a['id']}/approve")
    assert twice.status_code == 409 and len(d.fakes.jira.issues) == 2

    # Jira says the issue is done: the ticket is resolved and each place its feedback came from is told once.
    done = {
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": "ENG-2", "fields": {"status": {"name": "Done", "statusCategory": {"key": "done"}}}},
    }
    job = await d.webhook("jira", "jira", done)
    assert job.result["recorded"] is True and job.result["status"] == "resolved" and job.result["notified"] == 3
    resolved = (await d.api("GET", f"/v1/feedback/tickets/{draft_a['id']}")).json()["data"]
    assert (resolved["status"], resolved["external_status"]) == ("resolved", "Done") and resolved["resolved_at"]
    posts = [d.fakes.slack.arguments(r) for r in d.fakes.slack.calls("chat.postMessage")]
    assert sorted(p["thread_ts"] for p in posts) == sorted([ts["a1"], ts["a2"]])
    assert all("ENG-2" in p["text"] and p["channel"] == "C0GENERAL" for p in posts)
    told = [m for m in d.fakes.discord.channels[GENERAL]["messages"] if m["author"].get("bot")]
    assert len(told) == 2 and "ENG-2" in told[-1]["content"]  # the planted bot message, then ours
    await d.webhook("jira", "jira", done)  # another delivery of the same status tells nobody again
    assert len(d.fakes.slack.calls("chat.postMessage")) == 2

    # Later feedback on the resolved topic reopens it and is commented on its issue.
    d.fakes.slack.add_message(
        "C0GENERAL", "Still can't find where the Jira webhook secret is set in the docs", user="U0FRED"
    )
    later = insight(
        1, "The docs still do not say where the Jira webhook secret is configured", "the secret", "Jira webhook secret"
    )
    d.script.play(*scripted({"insights": [later]}))
    third = await d.run()
    assert (third["messages_read"], third["tickets_created"], third["tickets_updated"]) == (1, 0, 1)
    reopened = (await d.api("GET", f"/v1/feedback/tickets/{draft_a['id']}")).json()["data"]
    assert reopened["status"] == "reopened" and reopened["evidence_count"] == 4
    assert "reopened" in str(d.fakes.jira.issues["ENG-2"].comments[-1]["body"])
    assert await FeedbackMessage.filter(team_id=d.team_id).count() == 12
