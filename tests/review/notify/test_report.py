"""The review report of a repository over the last days, from the review records and the audit trail: its
counts match the records of that repository, that team and that window exactly; over HTTP it is team-scoped
(another team's same-named repository reports zeros); the weekly job posts it to the repository's channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.db.models import AuditEvent, Integration, PrReview, PrReviewComment
from app.db.repositories import audit, review_feedback
from app.db.repositories import pr_reviews as store
from tests.review.notify.conftest import CHANNEL, Notified

OLD = datetime.now(UTC) - timedelta(days=10)


async def _run(pull, status: str, *, old: bool = False) -> PrReview:
    run = await store.start_run(pull, head_sha="a" * 40, trigger="webhook", posting=True, job_id=None)
    await store.finish_run(run, status)
    if old:
        await PrReview.filter(id=run.id).update(started_at=OLD)
    return run


async def _comment(pull, run, fingerprint: str, path: str, severity: str, category: str, state: str, *, old=False):
    row = await store.claim_comment(
        pull,
        run,
        {
            "fingerprint": fingerprint,
            "path": path,
            "line": 3,
            "end_line": 3,
            "severity": severity,
            "category": category,
            "title": fingerprint,
            "commit_sha": "a" * 40,
        },
    )
    await store.update_comment(row, state=state)
    if old:
        await PrReviewComment.filter(id=row.id).update(created_at=OLD)


async def _event(team: int, action: str, target: str, details: dict, *, old: bool = False) -> None:
    event = await audit.record(
        team,
        actor_type="bot",
        actor_name="adjutant",
        action=action,
        target_type="comment",
        target=target,
        details=details,
    )
    if old:
        await AuditEvent.filter(id=event.id).update(created_at=OLD)


async def _seed(team: int, connection_id: int) -> None:
    one = await store.pull_for(team, connection_id, "acme/shop", 1, title="one", author="a", url="https://x/pull/1")
    two = await store.pull_for(team, connection_id, "acme/shop", 2, title="two", author="b", url="https://x/pull/2")
    other = await store.pull_for(team, connection_id, "acme/other", 9, title="o", author="c", url="https://x/o/9")
    run1, run2 = await _run(one, "COMPLETED"), await _run(two, "COMPLETED")
    await _run(one, "FAILED")
    old_run = await _run(two, "COMPLETED", old=True)
    other_run = await _run(other, "COMPLETED")
    await _comment(one, run1, "fp-high", "app/a.py", "high", "correctness", "POSTED")
    await _comment(one, run1, "fp-medium", "app/a.py", "medium", "performance", "RESOLVED")
    await _comment(two, run2, "fp-low", "app/b.py", "low", "style", "IGNORED")
    await _comment(two, run2, "fp-pending", "app/c.py", "high", "correctness", "PENDING")  # never reached the PR
    await _comment(two, run2, "fp-failed", "app/c.py", "high", "correctness", "FAILED")  # refused by the platform
    await _comment(two, old_run, "fp-old", "app/c.py", "critical", "security", "POSTED", old=True)
    await _comment(other, other_run, "fp-other", "app/o.py", "critical", "security", "POSTED")
    await _event(team, "approval.approved", "https://x/pull/2", {"review_id": run2.id})
    await _event(team, "approval.changes_requested", "https://x/pull/1", {"review_id": run1.id})
    await _event(team, "comment.resolved", "https://x/pull/1#c", {"review_id": run1.id, "fingerprint": "fp-medium"})
    await _event(team, "comment.ignored", "https://x/pull/2", {"fingerprint": "fp-low", "command": "ignore"})
    await _event(team, "approval.approved", "https://x/o/9", {"review_id": other_run.id})  # another repository
    await _event(team, "approval.approved", "https://x/pull/2", {"review_id": old_run.id}, old=True)  # too old
    for comment, kind, useful in (("c1", "thumbs_up", True), ("c2", "thumbs_up", True), ("c3", "thumbs_down", False)):
        signal = review_feedback.Signal("acme/shop", "correctness", "github", comment, kind, "ada", useful)
        await review_feedback.record(team, signal)


EXPECTED = {
    "repository": "acme/shop",
    "days": 7,
    "reviews_run": 2,
    "reviews_failed": 1,
    "pull_requests_reviewed": 2,
    "comments_posted": 3,
    "comments_by_severity": {"high": 1, "medium": 1, "low": 1},
    "comments_by_category": {"correctness": 1, "performance": 1, "style": 1},
    "comments_resolved": 1,
    "comments_ignored": 1,
    "approvals": 1,
    "changes_requested": 1,
    "top_files": [{"path": "app/a.py", "comments": 2}, {"path": "app/b.py", "comments": 1}],
    "precision": {"correctness": 0.6},  # (2 useful + 1) / (3 votes + 2), the review's smoothed measure
}


async def test_the_report_counts_what_the_records_hold_for_the_team_only(notified: Notified):
    deployment = notified.deployment
    connection = await Integration.get(public_id=deployment.connection_id)
    await _seed(deployment.team_id, connection.id)

    answer = await deployment.api("GET", "/v1/reviews/report?repository=acme/shop&days=7", token=deployment.member)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert {k: data[k] for k in EXPECTED} == EXPECTED

    stranger = await deployment.service.issue_token(email="mallory@other.example", team="other")
    theirs = (await deployment.api("GET", "/v1/reviews/report?repository=acme/shop", token=stranger)).json()["data"]
    assert theirs["reviews_run"] == theirs["comments_posted"] == theirs["approvals"] == 0
    assert theirs["top_files"] == [] and theirs["comments_by_severity"] == {} and theirs["precision"] == {}

    wider = (await deployment.api("GET", "/v1/reviews/report?repository=acme/shop&days=30")).json()["data"]
    assert wider["reviews_run"] == 3 and wider["comments_by_severity"]["critical"] == 1 and wider["approvals"] == 2

    for bad in (
        "repository=acme/shop&days=0",
        "repository=acme/shop&days=91",
        "repository=acme/shop&days=x",
        "repository=ab",
    ):
        refused = await deployment.api("GET", f"/v1/reviews/report?{bad}")
        assert refused.status_code == 422 and "INVALID_REQUEST" in refused.text, (bad, refused.text)
    missing = await deployment.api("GET", "/v1/reviews/report")
    assert missing.status_code == 422 and "repository" in missing.text
    unauthenticated = await deployment.service.request(
        "GET", "/v1/reviews/report?repository=acme/shop", client_headers=False
    )
    assert unauthenticated.status_code in (400, 401) and "data" not in unauthenticated.json()


async def test_the_weekly_report_job_posts_the_report_to_the_repository_channel(notified: Notified):
    notified.rules(f'slack_channel = "{CHANNEL}"\n')
    deployment = notified.deployment
    connection = await Integration.get(public_id=deployment.connection_id)
    await _seed(deployment.team_id, connection.id)
    await deployment.service.app.ctx.jobs.enqueue(
        "review.weekly_report", {"connection": "github-main", "repository": "acme/shop"}, None, deployment.team_id
    )
    (job,) = await notified.finished("review.weekly_report")
    assert job.status == "SUCCEEDED" and job.result["reviews_run"] == 2, job.last_error
    (posted,) = notified.posts()
    blocks = json.dumps(posted["blocks"])
    assert "2 reviews of 2 pull requests (1 failed)" in blocks
    assert "3 comments: 1 high, 1 medium, 1 low" in blocks and "1 resolved, 1 ignored" in blocks
    assert "1 approvals, 1 requests for changes" in blocks and "app/a.py: 2" in blocks
    assert posted["text"].endswith(f"(Adjutant report #{job.id})")
