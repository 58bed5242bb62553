"""The Slack notice of a finished pull-request review: posted once per review run through the team's Slack
connection (as a job, so a Slack outage is retried and the review never fails), with the pull request, the
verdict, the comments by severity and the summary link; nothing when the repository says never; every value
from the pull request escaped for Slack mrkdwn."""

from __future__ import annotations

import json

from app.db.models import AuditEvent, PrReview
from app.review.notify.slack_post import SlackMessage, post_once, slack_connection
from tests.review.notify.conftest import CHANNEL, Notified
from tests.review.pr.test_end_to_end import MISSING_KEY, NOISY_LOG
from tests.review.scripted import report

HOSTILE = "<!channel> fix & <https://evil.example|click here> now"


def _all_text(message: dict) -> str:
    return message["text"] + json.dumps(message.get("blocks") or [])


async def test_a_finished_review_is_announced_once_with_its_verdict_and_findings(notified: Notified):
    notified.rules(f'slack_channel = "{CHANNEL}"\n')
    notified.deployment.scenario.repo.pulls[7].title = HOSTILE
    notified.deployment.script.play(report(MISSING_KEY, NOISY_LOG))
    answer = await notified.deployment.deliver(pushed=False)
    assert answer.status_code == 202, answer.text
    (review_job,) = await notified.deployment.reviewed(1)
    (notice_job,) = await notified.finished("review.notify")
    assert notice_job.status == "SUCCEEDED" and notice_job.result["posted"] is True, notice_job.result

    (posted,) = notified.posts()
    run = await PrReview.get(id=review_job.result["review_id"])
    text = posted["text"]
    assert f"(Adjutant review #{run.id})" in text
    assert "Changes needed" in text  # the rules ask to request changes; the connection may not
    assert "1 high, 1 medium" in text
    blocks = json.dumps(posted["blocks"])
    assert "/pull/7|acme/shop#7" in blocks  # the title links to the pull request
    summary_url = notified.deployment.scenario.repo.comments[7][0]["html_url"]
    assert f"<{summary_url}|summary comment>" in blocks
    # The hostile title is shown, never read as a mention or a link.
    for rendered in (text, blocks):
        assert "<!channel>" not in rendered and "<https://evil.example" not in rendered
        assert "&lt;!channel&gt; fix &amp; &lt;https://evil.example" in rendered
    event = await AuditEvent.get(action="notice.posted")
    assert event.details["review_id"] == run.id and event.details["channel"] == CHANNEL

    # The same push delivered again makes no second review, so no second notice.
    await notified.deployment.deliver(pushed=False)
    await notified.finished("webhook.github", 2)
    assert len(await notified.deployment.reviewed(1)) == 1
    assert len(notified.posts()) == 1
    assert len(await notified.finished("review.notify")) == 1


async def test_no_notice_when_the_repository_says_never_or_has_no_channel(notified: Notified):
    notified.rules(f'slack_channel = "{CHANNEL}"\non = "never"\n')
    notified.deployment.script.play(report(MISSING_KEY))
    await notified.deployment.deliver(pushed=False)
    await notified.deployment.reviewed(1)
    (job,) = await notified.finished("review.notify")
    assert job.status == "SUCCEEDED" and job.result["posted"] is False and "off" in job.result["reason"]
    assert notified.posts() == [] and notified.slack.calls("chat.postMessage") == []


async def test_a_slack_outage_is_retried_and_the_notice_posted_once(notified: Notified):
    notified.rules(f'slack_channel = "{CHANNEL}"\non = "always"\n')
    notified.slack.fail_next(503, count=2, body={"ok": False, "error": "service_unavailable"}, path="chat.postMessage")
    notified.deployment.script.play(report())
    await notified.deployment.deliver(pushed=False)
    (review_job,) = await notified.deployment.reviewed(1)
    assert review_job.status == "SUCCEEDED" and review_job.result["status"] == "COMPLETED"
    (job,) = await notified.finished("review.notify")
    assert job.status == "SUCCEEDED" and job.attempts == 3, (job.status, job.attempts, job.last_error)
    (posted,) = notified.posts()
    assert "No new findings" in posted["text"]  # on = "always" announces a clean review too
    assert len(notified.slack.calls("chat.postMessage")) == 3  # two refused, one posted


async def test_a_retry_finds_the_notice_an_earlier_attempt_posted(notified: Notified):
    """A post whose answer was lost may have reached Slack: a later attempt finds it by its marker."""
    connections = notified.deployment.service.app.ctx.connections
    slack = await slack_connection(connections, notified.deployment.team_id, None)
    message = SlackMessage(
        text="Review of acme/shop#7 (Adjutant review #41)", blocks=[], marker="(Adjutant review #41)"
    )
    first = await post_once(connections, slack, CHANNEL, message, retried=False)
    other = SlackMessage(text="Review of acme/shop#7 (Adjutant review #4)", blocks=[], marker="(Adjutant review #4)")
    again = await post_once(connections, slack, CHANNEL, message, retried=True)
    assert again.again and again.ts == first.ts
    assert not (await post_once(connections, slack, CHANNEL, other, retried=True)).again  # #4 is not #41
    assert len(notified.posts()) == 2
