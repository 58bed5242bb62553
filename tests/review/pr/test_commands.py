"""`/adjutant` commands in pull-request comments on each platform: only the pull request's author is obeyed by
default (a stranger is refused, answered and audited); `ignore` dismisses the named comment, which is never
posted again; `ask` answers from the diff; `review` reviews the whole pull request again."""

from __future__ import annotations

import pytest

from app.db.models import AuditEvent, PrReviewComment
from tests.review.pr.conftest import Deployment
from tests.review.pr.scenarios import AUTHOR, PATH
from tests.review.scripted import finding, report

NOISY = finding(
    PATH,
    12,
    "Logging every read floods the log",
    severity="medium",
    category="observability",
    confidence=0.9,
    explanation="Each lookup writes a log line; hot paths will flood it.",
    evidence='log("read", key)',
)
ANSWER = "The log line records each read so cache misses can be traced (app/cache.py:12)."


@pytest.mark.parametrize("deployment", ["github", "gitlab", "bitbucket"], indirect=True)
async def test_comment_commands_are_obeyed_from_the_author_only(deployment: Deployment):
    scenario = deployment.scenario
    deployment.script.play(report(NOISY))
    await deployment.deliver(pushed=False)
    await deployment.reviewed(1)
    (posted,) = await PrReviewComment.all()
    short = posted.fingerprint[:8]
    assert f"/adjutant ignore {short}" in scenario.line_comments()[0].body

    # A stranger is refused, and told why; nothing else happens.
    answer = await deployment.comment("/adjutant review", by="mallory", comment_id=9001)
    assert answer.status_code == 202 and answer.json()["data"]["accepted"]
    await deployment.reviewed(1, kind="review.pr_command")
    assert any("needs the member role on acme/shop" in note and "author (grace)" in note for note in scenario.notes())
    refused = await AuditEvent.get(action="command.refused")
    assert (refused.actor_type, refused.actor_name) == ("user", f"{scenario.platform} user mallory")

    # The author dismisses the comment by its id.
    await deployment.comment(f"Noted.\n/adjutant ignore {short}", by=AUTHOR, comment_id=9002)
    await deployment.reviewed(2, kind="review.pr_command")
    assert scenario.line_comments()[0].done
    await posted.refresh_from_db()
    assert (posted.state, posted.state_reason) == ("IGNORED", f"ignored by {AUTHOR}")
    assert (await AuditEvent.get(action="comment.ignored")).details["fingerprint"] == posted.fingerprint

    # A question is answered from the diff.
    deployment.script.play({"text": ANSWER})
    await deployment.comment("/adjutant ask Why log every read?", by=AUTHOR, comment_id=9003)
    await deployment.reviewed(3, kind="review.pr_command")
    (asked,) = deployment.script.calls()
    assert "Why log every read?" in str(asked) and "value = CACHE.get(key)" in str(asked)
    assert any(note.startswith("> Why log every read?") and ANSWER in note for note in scenario.notes())

    # A review on demand covers the whole pull request; the dismissed finding is not posted again.
    deployment.script.play(report(NOISY))
    await deployment.comment("/adjutant review", by=AUTHOR, comment_id=9004)
    await deployment.reviewed(4, kind="review.pr_command")
    jobs = await deployment.reviewed(2)
    assert jobs[1].result["status"] == "COMPLETED" and jobs[1].result["comments_posted"] == 0, jobs[1].result
    assert len(scenario.line_comments()) == 1
    # A comment without a command, or the same comment delivered again, queues nothing.
    await deployment.comment("Looks good to me", by=AUTHOR, comment_id=9005)
    await deployment.comment("/adjutant review", by=AUTHOR, comment_id=9004)
    assert len(await deployment.reviewed(4, kind="review.pr_command")) == 4
