"""The Slack client (slack_sdk's AsyncWebClient under our call policy) against a loopback Slack Web API."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

import pytest

from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.runtime import IntegrationRuntime
from app.integrations.slack import SlackClient
from tests.fakes.slack_server import FakeSlack
from tests.integrations.conftest import connection, integration_settings

TOKEN = "xoxb-1111-2222-s3cr3tT0kenDoNotLeak"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* finished"}}]


@pytest.fixture
def fake():
    with FakeSlack(token=TOKEN) as server:
        yield server


def slack(fake: FakeSlack, runtime: IntegrationRuntime, *, token: str = TOKEN) -> SlackClient:
    return SlackClient(connection("slack", fake.url + "/api", {"token": token}), runtime)


async def test_identity_reports_the_bot_and_the_scopes_slack_lists(fake, runtime):
    client = slack(fake, runtime)
    identity = await client.identity()
    await client.aclose()
    assert identity.login == "adjutant"
    assert identity.scopes == ["chat:write", "channels:history", "groups:history"]
    assert identity.detail == "Slack workspace Acme (T0ACME); bot B0BOT"
    (request,) = fake.calls("auth.test")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_post_message_with_blocks_in_a_thread_returns_the_message_and_its_permalink(fake, runtime):
    root = fake.add_message("C0GENERAL", "deploy?")
    client = slack(fake, runtime)
    posted = await client.post_message("C0GENERAL", "Deploy finished", blocks=BLOCKS, thread_ts=root["ts"])
    await client.aclose()
    assert posted.text == "Deploy finished" and posted.is_bot and posted.author_id == "U0BOT"
    assert posted.thread_id == root["ts"] and posted.channel == "C0GENERAL"
    ts_digits = posted.id.replace(".", "")
    assert posted.url == f"https://acme.slack.com/archives/C0GENERAL/p{ts_digits}?thread_ts={root['ts']}&cid=C0GENERAL"
    sent = fake.arguments(fake.calls("chat.postMessage")[0])
    assert sent == {"channel": "C0GENERAL", "text": "Deploy finished", "blocks": BLOCKS, "thread_ts": root["ts"]}
    assert fake.replies[("C0GENERAL", root["ts"])][0]["ts"] == posted.id
    assert len(fake.calls("chat.getPermalink")) == 1


async def test_bad_messages_are_refused_before_slack_is_called(fake, runtime):
    client = slack(fake, runtime)
    with pytest.raises(IntegrationRejected, match="needs text or blocks"):
        await client.post_message("C0GENERAL", "  ")
    with pytest.raises(IntegrationRejected, match="at most 50"):
        await client.post_message("C0GENERAL", "hi", blocks=BLOCKS * 51)
    with pytest.raises(IntegrationRejected, match="channel"):
        await client.post_message("C0 GENERAL&x=1", "hi")
    with pytest.raises(IntegrationRejected, match="ts"):
        await client.update_message("C0GENERAL", "yesterday", "hi")
    await client.aclose()
    assert fake.requests == []


async def test_update_message_replaces_the_text_of_our_own_message_only(fake, runtime):
    client = slack(fake, runtime)
    posted = await client.post_message("C0GENERAL", "Deploying…")
    updated = await client.update_message("C0GENERAL", posted.id, "Deployed", blocks=BLOCKS)
    assert updated.id == posted.id and updated.text == "Deployed"
    assert updated.url == f"https://acme.slack.com/archives/C0GENERAL/p{posted.id.replace('.', '')}"
    assert fake.channels["C0GENERAL"][-1]["text"] == "Deployed"
    someone_else = fake.add_message("C0GENERAL", "not yours")
    with pytest.raises(IntegrationRejected, match="cant_update_message"):
        await client.update_message("C0GENERAL", someone_else["ts"], "mine now")
    with pytest.raises(IntegrationNotFound, match="message_not_found"):
        await client.update_message("C0GENERAL", "1700000000.000001", "gone")
    await client.aclose()
    assert someone_else["text"] == "not yours"


async def test_history_follows_cursors_newest_first_with_links_from_the_workspace(fake, runtime):
    sent = [fake.add_message("C0GENERAL", f"message {n}") for n in range(7)]
    fake.add_message("C0GENERAL", "from a bot", bot=True)
    fake.page_max = 3
    conn = connection("slack", fake.url + "/api", {"token": TOKEN})
    client = SlackClient(conn, runtime)
    messages = await client.history("C0GENERAL", limit=6)
    await client.aclose()
    assert [m.text for m in messages] == ["from a bot"] + [f"message {n}" for n in (6, 5, 4, 3, 2)]
    assert messages[0].is_bot and messages[0].author_name == "deploy-bot"
    assert messages[1].author_id == "U0ADA" and messages[1].author_name == "u0ada" and not messages[1].is_bot
    assert messages[1].url == f"https://acme.slack.com/archives/C0GENERAL/p{sent[6]['ts'].replace('.', '')}"
    assert messages[1].created_at is not None and messages[1].created_at.timestamp() == float(sent[6]["ts"])
    pages = [fake.arguments(r) for r in fake.calls("conversations.history")]
    assert [p["limit"] for p in pages] == ["6", "3"] and "cursor" not in pages[0] and pages[1]["cursor"]
    # One auth.test gave the workspace address for every link; it is kept for the next client.
    assert len(fake.calls("auth.test")) == 1
    again = SlackClient(conn, runtime)
    assert (await again.history("C0GENERAL", limit=1))[0].url == messages[0].url
    await again.aclose()
    assert len(fake.calls("auth.test")) == 1


async def test_history_since_a_ts_comes_oldest_first(fake, runtime):
    sent = [fake.add_message("C0GENERAL", f"message {n}") for n in range(5)]
    fake.page_max = 2
    client = slack(fake, runtime)
    messages = await client.history("C0GENERAL", oldest=sent[1]["ts"], limit=50)
    await client.aclose()
    assert [m.text for m in messages] == ["message 2", "message 3", "message 4"]
    assert all(fake.arguments(r)["oldest"] == sent[1]["ts"] for r in fake.calls("conversations.history"))


async def test_replies_give_the_root_then_the_thread_across_pages(fake, runtime):
    root = fake.add_message("C0GENERAL", "Is prod down?")
    for n in range(4):
        fake.add_reply("C0GENERAL", root["ts"], f"reply {n}")
    fake.page_max = 2
    client = slack(fake, runtime)
    thread = await client.replies("C0GENERAL", root["ts"], limit=4)
    with pytest.raises(IntegrationNotFound, match="thread_not_found"):
        await client.replies("C0GENERAL", "1700000000.000001")
    await client.aclose()
    assert [m.text for m in thread] == ["Is prod down?", "reply 0", "reply 1", "reply 2"]
    assert thread[0].reply_count == 4 and thread[0].thread_id == root["ts"]
    assert thread[1].url.endswith(f"?thread_ts={root['ts']}&cid=C0GENERAL")


async def test_permalink_is_slacks_own(fake, runtime):
    message = fake.add_message("C0GENERAL", "hello")
    client = slack(fake, runtime)
    link = await client.permalink("C0GENERAL", message["ts"])
    await client.aclose()
    assert link == f"https://acme.slack.com/archives/C0GENERAL/p{message['ts'].replace('.', '')}"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("invalid_auth", IntegrationAuthFailed),
        ("token_revoked", IntegrationAuthFailed),
        ("account_inactive", IntegrationAuthFailed),
        ("missing_scope", IntegrationAuthFailed),
        ("channel_not_found", IntegrationNotFound),
        ("invalid_arguments", IntegrationRejected),
    ],
)
async def test_slack_error_codes_map_to_typed_errors(fake, runtime, error, expected):
    fake.fail_next(200, body={"ok": False, "error": error})
    client = slack(fake, runtime)
    with pytest.raises(expected, match=error):
        await client.permalink("C0GENERAL", "1700000000.000001")
    await client.aclose()
    assert len(fake.requests) == 1


async def test_real_refusals_from_slack_state(fake, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    client = slack(fake, runtime, token="xoxb-WRONG-s3cr3t")
    with pytest.raises(IntegrationAuthFailed) as raised:
        await client.identity()
    await client.aclose()
    assert "xoxb-WRONG-s3cr3t" not in str(raised.value) + repr(raised.value) + caplog.text
    assert "Sending a request - url: POST" in caplog.text  # the SDK's debug log was captured, and is clean
    client = slack(fake, runtime)
    with pytest.raises(IntegrationAuthFailed, match="not_in_channel"):
        await client.post_message("C0PRIVATE", "hello")
    with pytest.raises(IntegrationNotFound, match="channel_not_found"):
        await client.history("C0NOPE")
    await client.aclose()
    assert TOKEN not in caplog.text
    assert fake.channels["C0PRIVATE"] == []


async def test_ratelimited_waits_retry_after_through_the_limiter_then_succeeds(fake, runtime):
    fake.add_message("C0GENERAL", "hello")
    fake.fail_next(429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}, path="history")
    client = slack(fake, runtime)
    started = time.monotonic()
    messages = await client.history("C0GENERAL")
    elapsed = time.monotonic() - started
    await client.aclose()
    assert [m.text for m in messages] == ["hello"]
    assert len(fake.calls("conversations.history")) == 2
    assert 0.9 <= elapsed < 2.0  # held by the shared limiter for Retry-After, then sent again


async def test_a_long_ratelimit_is_shared_with_another_worker_and_nothing_is_posted(fake, runtime):
    conn = connection("slack", fake.url + "/api", {"token": TOKEN})
    fake.fail_next(429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})
    client = SlackClient(conn, runtime)
    with pytest.raises(IntegrationRateLimited) as raised:
        await client.post_message("C0GENERAL", "hello")
    await client.aclose()
    assert raised.value.retry_after == 30
    other = IntegrationRuntime(integration_settings(), redis=runtime.redis, key_prefix=runtime.key_prefix)
    try:
        late = SlackClient(conn, other)
        with pytest.raises(IntegrationRateLimited):
            await late.post_message("C0GENERAL", "hello again")
        await late.aclose()
    finally:
        other.close()
    assert len(fake.requests) == 1 and fake.channels["C0GENERAL"] == []


async def test_a_per_channel_rate_limited_post_is_sent_again_once(fake, runtime):
    fake.fail_next(200, body={"ok": False, "error": "rate_limited"}, path="postMessage")
    client = slack(fake, runtime)
    posted = await client.post_message("C0GENERAL", "hello")
    await client.aclose()
    assert [m["ts"] for m in fake.channels["C0GENERAL"]] == [posted.id]
    assert len(fake.calls("chat.postMessage")) == 2


async def test_reads_retry_5xx_but_a_post_that_reached_slack_is_not_sent_twice(fake, runtime):
    fake.add_message("C0GENERAL", "hello")
    fake.fail_next(503, body=b"<html>upstream error</html>", headers={"Content-Type": "text/html"}, path="history")
    client = slack(fake, runtime)
    assert [m.text for m in await client.history("C0GENERAL")] == ["hello"]
    fake.fail_next(500, body={"ok": False, "error": "internal_error"}, path="postMessage")
    with pytest.raises(IntegrationUnavailable, match="internal_error"):
        await client.post_message("C0GENERAL", "once")
    await client.aclose()
    assert len(fake.calls("conversations.history")) == 2
    assert len(fake.calls("chat.postMessage")) == 1


@contextlib.contextmanager
def dropping_listener():
    """A port that accepts each connection, reads the request and hangs up without answering."""
    accepted: list[int] = []
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()


async def test_dropped_connections_follow_our_policy_not_the_sdks(runtime):
    with dropping_listener() as (port, accepted):
        client = SlackClient(connection("slack", f"http://127.0.0.1:{port}/api", {"token": TOKEN}), runtime)
        with pytest.raises(IntegrationUnavailable, match="dropped the connection"):
            await client.identity()
        reads = len(accepted)
        with pytest.raises(IntegrationUnavailable, match="dropped the connection"):
            await client.post_message("C0GENERAL", "maybe posted")
        await client.aclose()
    # A read is tried 1 + max_retries times; a post that may have reached Slack only once.
    assert reads == 3 and len(accepted) - reads == 1


async def test_a_redirect_is_refused_and_the_token_goes_nowhere_else(fake, runtime):
    with FakeSlack(token=TOKEN) as elsewhere:
        fake.fail_next(302, body=b"", headers={"Location": elsewhere.url + "/api/auth.test"})
        client = slack(fake, runtime)
        with pytest.raises(IntegrationUnavailable, match="redirect"):
            await client.identity()
        await client.aclose()
        assert elsewhere.requests == []


async def test_an_unreachable_slack_is_unavailable_after_retries(runtime):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SlackClient(connection("slack", f"http://127.0.0.1:{port}/api", {"token": TOKEN}), runtime)
    with pytest.raises(IntegrationUnavailable, match="could not be reached") as raised:
        await client.identity()
    await client.aclose()
    assert TOKEN not in str(raised.value)
