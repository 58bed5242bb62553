"""Reading the sources: GitHub issues with all the chosen labels (pull requests left out), Discord channels and
their active threads, Slack channels; bots skipped; each channel read from its cursor, so a second read
returns only what is new; a source that fails is recorded and the others are still read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from app.db.connection import close_database, open_database
from app.db.repositories import feedback as store
from app.db.repositories.identity import get_or_create_team
from app.feedback.sources import commit_cursors, read_sources
from app.integrations.connections import ConnectionInput, Connections
from app.integrations.runtime import IntegrationRuntime
from app.runtime.secret_box import load_secret_box
from tests.conftest import make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.github_data import FakeIssue, FakePull
from tests.fakes.github_server import FakeGitHub
from tests.fakes.slack_server import FakeSlack
from tests.feedback.conftest import KEYS

GENERAL = "175928847299117063"


@pytest_asyncio.fixture
async def connections(database_url: str, redis_url: str) -> AsyncIterator[Connections]:
    settings = make_settings(
        database_url, redis_url, **{"secrets.keys": KEYS, "integrations.allowed_hosts": ["127.0.0.1"]}
    )
    await open_database(database_url, settings.database)
    runtime = IntegrationRuntime(settings.integrations, redis=None, key_prefix="test:")
    yield Connections(load_secret_box(settings), runtime)
    runtime.close()
    await close_database()


async def connect(connections: Connections, team_id: int, kind: str, base_url: str, token: str, **options) -> None:
    data = ConnectionInput(kind=kind, name=kind, base_url=base_url, credentials={"token": token}, options=options)
    await connections.add(team_id, None, data)


async def read_and_store(connections: Connections, team_id: int):
    reading = await read_sources(team_id, connections, per_channel=100)
    await store.add_messages(team_id, None, [m.row() for m in reading.messages])
    await commit_cursors(team_id, reading)
    return reading


async def test_each_source_is_read_from_its_cursor_and_a_failing_one_does_not_stop_the_others(connections):
    team = await get_or_create_team("core")
    with FakeGitHub() as github, FakeDiscord() as discord, FakeSlack() as slack:
        repo = github.add_repo("acme/docs")
        repo.issues[1] = FakeIssue(1, "Docs: the PATH step is missing", "On Windows...", labels=["docs", "feedback"])
        repo.issues[2] = FakeIssue(2, "Crash on start", labels=["bug"])
        repo.issues[3] = FakeIssue(3, "Docs: tokens", state="closed", labels=["docs", "feedback"], author="hubot")
        repo.issues[4] = FakeIssue(4, "Only one label", labels=["docs"])
        repo.pulls[5] = FakePull(5, "Fix docs", "fix-docs", "c" * 40, labels=["docs", "feedback"])
        await connect(
            connections,
            team.id,
            "github",
            github.url,
            github.token or "",
            feedback_repos=["acme/docs"],
            feedback_labels=["docs", "feedback"],
        )
        root = discord.add_message(GENERAL, "Where is the webhook secret documented?")
        thread = discord.start_thread(GENERAL, root, "webhook secret")
        discord.add_message(thread["id"], "Same question, the docs page is empty")
        discord.add_message(thread["id"], "build passed", bot=True)
        await connect(
            connections,
            team.id,
            "discord",
            discord.url + "/api",
            discord.token,
            guild_id=discord.guild_id,
            channels=[GENERAL],
        )
        slack.add_message("C0GENERAL", "The search limits are undocumented", user="U0ADA")
        await connect(
            connections, team.id, "slack", slack.url + "/api", slack.token, channels=["C0GENERAL", "C0PRIVATE"]
        )

        first = await read_and_store(connections, team.id)
        by_id = {m.external_id: m for m in first.messages}
        slack_ids = [k for k in by_id if k.startswith("C0GENERAL:")]
        assert sorted(by_id) == sorted(
            ["acme/docs#1", "acme/docs#3", f"{GENERAL}:{root['id']}", *slack_ids, *_in(by_id, thread["id"])]
        )
        assert len(slack_ids) == 1 and len(_in(by_id, thread["id"])) == 1
        issue = by_id["acme/docs#3"]
        assert (issue.source, issue.author_name, issue.url) == ("github", "hubot", f"{github.url}/acme/docs/issues/3")
        assert issue.text.startswith("Docs: tokens")
        in_thread = next(m for m in first.messages if m.channel == thread["id"])
        assert in_thread.thread_id == thread["id"] and in_thread.text == "Same question, the docs page is empty"
        assert first.counts[f"discord:{thread['id']}"] == 1 and first.counts["github:acme/docs"] == 2
        # The bot is not in the private channel: that channel fails, everything else was read.
        assert [e["source"] for e in first.errors] == ["slack:C0PRIVATE"]

        # The second read sees only what is new since each cursor.
        discord.add_message(GENERAL, "Also: the PATH step")
        slack.add_message("C0GENERAL", "And the token expiry", user="U0BOB")
        second = await read_and_store(connections, team.id)
        texts = sorted(m.text for m in second.messages if m.source != "github")
        assert texts == ["Also: the PATH step", "And the token expiry"]
        # GitHub's `since` is inclusive: the newest issue comes again, and storing skips it.
        assert await store.add_messages(team.id, None, [m.row() for m in second.messages]) == []


def _in(found: dict, channel: str) -> list[str]:
    return [k for k in found if k.startswith(f"{channel}:")]
