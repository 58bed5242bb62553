"""Feedback on the review's own comments turns into precision: thumbs on its line comments (GitHub reactions,
GitLab award emoji) are read when a review runs and counted once; `/adjutant ignore` counts against the
category and needs the maintainer role unless the commenter wrote the pull request; a category people keep
rejecting is demoted (its threshold raised, or listed in the summary only) and restored when it recovers."""

from __future__ import annotations

import pytest

from app.db.models import AuditEvent, PrReviewComment, ReviewFeedbackSignal
from app.db.repositories import review_feedback as signals
from app.db.repositories.review_feedback import Signal
from tests.review.pr.conftest import Deployment
from tests.review.pr.scenarios import AUTHOR, PATH, RULES
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
TWO = pytest.mark.parametrize("deployment", ["github", "gitlab"], indirect=True)


def react(deployment: Deployment, comment_id: str, login: str, useful: bool | None) -> None:
    """A thumbs up (True), down (False) or another reaction (None), as each platform stores it."""
    scenario = deployment.scenario
    if scenario.platform == "github":
        scenario.repo.react(int(comment_id), login, {True: "+1", False: "-1", None: "heart"}[useful])
    else:
        scenario.project.award(int(comment_id), login, {True: "thumbsup", False: "thumbsdown", None: "tada"}[useful])


def grant(deployment: Deployment, login: str, role: str) -> None:
    """The platform permission that maps to the team role `role`."""
    scenario = deployment.scenario
    if scenario.platform == "github":
        scenario.repo.collaborators[login] = {"member": "write", "maintainer": "maintain", "admin": "admin"}[role]
    else:
        scenario.project.add_member(login, {"member": 30, "maintainer": 40, "admin": 50}[role])


async def kinds() -> list[tuple[str, str, bool]]:
    rows = await ReviewFeedbackSignal.all().order_by("id")
    return sorted((row.kind, row.actor, row.useful) for row in rows)


@TWO
async def test_thumbs_and_ignore_are_counted_once_and_ignore_needs_a_maintainer(deployment: Deployment):
    scenario = deployment.scenario
    deployment.script.play(report(NOISY))
    await deployment.deliver(pushed=False)
    await deployment.reviewed(1)
    (posted,) = await PrReviewComment.all()
    bot = "octocat" if scenario.platform == "github" else scenario.fake.user["username"]
    for login, useful in (("alice", False), ("bob", False), ("carol", True), ("dan", None), (bot, False)):
        react(deployment, posted.platform_id, login, useful)

    # Reactions are read when a review runs, and a second run reads them again without counting them twice.
    for number, comment_id in ((1, 9101), (2, 9102)):
        deployment.script.play(report())
        await deployment.comment("/adjutant review", by=AUTHOR, comment_id=comment_id)
        await deployment.reviewed(number, kind="review.pr_command")
        await deployment.reviewed(number + 1)
    expected = [("thumbs_down", "alice", False), ("thumbs_down", "bob", False), ("thumbs_up", "carol", True)]
    assert await kinds() == expected
    assert {row.category for row in await ReviewFeedbackSignal.all()} == {"observability"}

    # A member may not dismiss someone else's pull request's finding: one reply, one audit event, no change.
    grant(deployment, "mallory", "member")
    grant(deployment, "maya", "maintainer")
    short = posted.fingerprint[:8]
    await deployment.comment(f"/adjutant ignore {short}", by="mallory", comment_id=9103)
    await deployment.reviewed(3, kind="review.pr_command")
    refusals = [n for n in scenario.notes() if n.startswith("@mallory")]
    assert len(refusals) == 1 and "needs the maintainer role" in refusals[0] and "gives member" in refusals[0]
    refused = await AuditEvent.get(action="command.refused")
    assert refused.actor_name == f"{scenario.platform} user mallory" and refused.details["command"] == "ignore"
    await posted.refresh_from_db()
    assert posted.state == "POSTED" and not scenario.line_comments()[0].done
    assert len(await kinds()) == 3

    # A maintainer may; the dismissal counts once against the category.
    await deployment.comment(f"/adjutant ignore {short}", by="maya", comment_id=9104)
    await deployment.reviewed(4, kind="review.pr_command")
    await posted.refresh_from_db()
    assert posted.state == "IGNORED" and scenario.line_comments()[0].done
    assert ("ignored", "maya", False) in await kinds() and len(await kinds()) == 4

    # The precision API counts them with the prior; another team sees nothing of this repository.
    answer = await deployment.api("GET", "/v1/reviews/precision", params={"repository": "acme/shop"})
    assert answer.status_code == 200, answer.text
    (category,) = answer.json()["data"]["categories"]
    assert (category["category"], category["useful"], category["not_useful"]) == ("observability", 1, 3)
    assert category["precision"] == pytest.approx((1 + 1) / (4 + 2), abs=1e-3)
    assert category["demoted"] is False and category["mode"] is None  # 4 signals: under min_signals (5)
    stranger = await deployment.service.issue_token(email="zed@example.com", team="other")
    foreign = await deployment.api("GET", "/v1/reviews/precision", token=stranger, params={"repository": "acme/shop"})
    assert foreign.status_code == 200 and foreign.json()["data"]["categories"] == []
    bad = await deployment.api("GET", "/v1/reviews/precision", params={"repository": ""})
    assert bad.status_code == 422


async def seed(deployment: Deployment, useful: bool, count: int, start: int) -> None:
    for index in range(start, start + count):
        signal = Signal("acme/shop", "observability", "github", f"seed-{index}", "thumbs_up", f"user{index}", useful)
        assert await signals.record(deployment.team_id, signal)


@pytest.mark.parametrize("deployment", ["github"], indirect=True)
async def test_a_rejected_category_is_demoted_then_restored(deployment: Deployment):
    scenario = deployment.scenario
    await seed(deployment, False, 5, 0)  # precision (0 + 1) / (5 + 2) = 0.14: below the floor 0.5

    # raise_threshold (the default): 0.8 no longer clears 0.7 + 0.15, so the finding is dropped altogether.
    deployment.script.play(report(NOISY | {"confidence": 0.8}))
    await deployment.deliver(pushed=False)
    (job,) = await deployment.reviewed(1)
    assert job.result["comments_posted"] == 0 and scenario.line_comments() == []
    (summary,) = scenario.summaries()
    assert "Logging every read" not in summary[1]
    demoted = await AuditEvent.get(action="category.demoted")
    assert demoted.target == "acme/shop:observability" and "raised to 0.85" in demoted.reason
    shown = (await deployment.api("GET", "/v1/reviews/precision", params={"repository": "acme/shop"})).json()
    assert shown["data"]["categories"][0] | {"precision": None} == shown["data"]["categories"][0] | {
        "precision": None,
        "demoted": True,
        "mode": "raise_threshold",
        "threshold": 0.85,
    }

    # summary_only, from the target branch's rules: kept, listed in the summary, not posted on its line.
    scenario.repo.add_file(".adjutant.toml", RULES.replace("[review]\n", '[review]\ndemotion = "summary_only"\n', 1))
    deployment.script.play(report(NOISY | {"confidence": 0.8}))
    await deployment.comment("/adjutant review", by=AUTHOR, comment_id=9201)
    await deployment.reviewed(1, kind="review.pr_command")
    await deployment.reviewed(2)
    assert scenario.line_comments() == []
    (summary,) = scenario.summaries()
    listed = summary[1].split("### Listed here only", 1)
    assert len(listed) == 2 and "Logging every read floods the log" in listed[1]
    assert await AuditEvent.filter(action="category.demoted").count() == 1  # still demoted: not audited again

    # Enough useful signals restore it: (6 + 1) / (11 + 2) = 0.54, and the finding is posted inline again.
    await seed(deployment, True, 6, 100)
    deployment.script.play(report(NOISY | {"confidence": 0.8}))
    await deployment.comment("/adjutant review", by=AUTHOR, comment_id=9202)
    await deployment.reviewed(2, kind="review.pr_command")
    jobs = await deployment.reviewed(3)
    assert jobs[2].result["comments_posted"] == 1
    assert [c.line for c in scenario.line_comments()] == [12]
    restored = await AuditEvent.get(action="category.restored")
    assert restored.target == "acme/shop:observability" and "0.54" in restored.reason


FIXED = finding(
    PATH,
    11,
    "A missing key now reads as None",
    severity="medium",
    category="correctness",
    confidence=0.9,
    explanation="get() hides a missing key behind None; callers cannot tell it from a stored None.",
    evidence="value = CACHE.get(key)",
)


def resolve_by_a_person(deployment: Deployment, comment: PrReviewComment) -> None:
    """A reviewer resolves the comment's thread on the platform, without any commit."""
    scenario = deployment.scenario
    if scenario.platform == "github":
        scenario.repo.pulls[scenario.number].resolved_threads.add(int(comment.platform_id))
        return
    for discussion in scenario.project.discussions[scenario.number]:
        for note in discussion["notes"]:
            if str(note["id"]) == comment.platform_id:
                note["resolved"] = True


@TWO
async def test_a_thread_resolved_without_a_change_counts_against_and_changed_lines_count_for(deployment):
    deployment.script.play(report(NOISY, FIXED))
    await deployment.deliver(pushed=False)
    await deployment.reviewed(1)
    by_line = {c.line: c for c in await PrReviewComment.all()}
    assert set(by_line) == {11, 12}
    resolve_by_a_person(deployment, by_line[12])  # the logging line stays as it was in the next push

    deployment.scenario.push()  # rewrites line 11 (the finding was acted on), moves line 12 unchanged
    deployment.script.play(report())
    await deployment.deliver(pushed=True)
    await deployment.reviewed(2)
    rows = {(row.category, row.kind, row.useful) for row in await ReviewFeedbackSignal.all()}
    assert rows == {("correctness", "lines_changed", True), ("observability", "resolved_unchanged", False)}
