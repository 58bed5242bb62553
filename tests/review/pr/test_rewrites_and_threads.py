"""Following our comments when a push rewrites the branch, and resolving them on GitHub: a force-push is reviewed
whole against the base, posts no finding twice, resolves the comments whose lines left the diff and keeps (and
moves) the others; on GitHub an outdated comment's review thread is resolved through GraphQL, and a token that
GraphQL refuses gets its comment marked through REST instead."""

from __future__ import annotations

import json

import pytest

from app.db.models import AuditEvent, PrReviewComment
from tests.review.pr.conftest import Deployment
from tests.review.pr.scenarios import PATH
from tests.review.scripted import finding, report

GONE = finding(
    PATH,
    11,
    "Missing key returns None",
    severity="high",
    confidence=0.9,
    evidence="value = CACHE.get(key)",
)
KEPT = finding(
    PATH,
    12,
    "Logging every read floods the log",
    severity="medium",
    category="observability",
    confidence=0.85,
    evidence='log("read", key)',
)
KEPT_AGAIN = KEPT | {"line": 11}  # the same problem, reported on the log line's new place
NEW = finding(
    PATH,
    12,
    "A None default hides missing keys",
    severity="high",
    category="error-handling",
    confidence=0.9,
    evidence="return CACHE.get(key, None)",
)


@pytest.mark.parametrize("deployment", ["github", "gitlab"], indirect=True)
async def test_a_force_push_is_reviewed_whole_and_comments_follow_their_lines(deployment: Deployment):
    scenario = deployment.scenario
    deployment.script.play(report(GONE, KEPT))
    assert (await deployment.deliver(pushed=False)).status_code == 202
    await deployment.reviewed(1)
    first = {c.line: c for c in scenario.line_comments()}
    assert sorted(first) == [11, 12]

    # The author rewrites the branch on the base: the reviewed head is not an ancestor of the new one.
    scenario.force_push()
    deployment.script.play(report(KEPT_AGAIN, NEW))
    assert (await deployment.deliver(pushed=True)).status_code == 202
    jobs = await deployment.reviewed(2)
    assert jobs[1].result["incremental"] is False and jobs[1].result["comments_posted"] == 1, jobs[1].result
    (call,) = deployment.script.calls()
    sent = json.dumps(call)
    assert '+     log(\\"read\\", key)' in sent and "+     return CACHE.get(key, None)" in sent  # against the base

    after = {c.id: c for c in scenario.line_comments()}
    assert len(after) == 3  # the re-reported finding was not posted again
    assert after[first[11].id].done  # its line is not in the new diff
    assert not after[first[12].id].done  # its line is, one line up
    (new,) = [c for c in after.values() if c.id not in (first[11].id, first[12].id)]
    assert "A None default hides missing keys" in new.body and new.line == 12
    rows = {row.title: row for row in await PrReviewComment.all()}
    assert (rows["Missing key returns None"].state, rows["Logging every read floods the log"].line) == ("RESOLVED", 11)
    assert rows["Logging every read floods the log"].state == "POSTED"
    ((_, summary),) = scenario.summaries()
    assert "the whole pull request" in summary and "A None default hides missing keys" in summary
    resolved = await AuditEvent.filter(team_id=deployment.team_id, action="comment.resolved")
    assert [event.details["fingerprint"] for event in resolved] == [rows["Missing key returns None"].fingerprint]


@pytest.mark.parametrize("deployment", ["github"], indirect=True)
async def test_github_resolves_an_outdated_comment_s_thread_through_graphql(deployment: Deployment):
    scenario = deployment.scenario
    deployment.script.play(report(GONE, KEPT))
    await deployment.deliver(pushed=False)
    await deployment.reviewed(1)
    first = {c.line: c for c in scenario.line_comments()}
    scenario.push()  # rewrites line 11
    deployment.script.play(report())
    await deployment.deliver(pushed=True)
    await deployment.reviewed(2)

    pull = scenario.repo.pulls[scenario.number]
    assert pull.resolved_threads == {int(first[11].id)}
    after = {c.id: c for c in scenario.line_comments()}
    assert after[first[11].id].body == first[11].body  # resolved, not rewritten
    calls = [json.loads(r.body) for r in scenario.fake.requests if r.path == "/api/graphql"]
    operations = [c["query"].split("(")[0].strip() for c in calls]
    assert operations == ["query ReviewThreads", "mutation ResolveReviewThread"]
    assert calls[1]["variables"] == {"threadId": f"PRRT_kwDOfake{first[11].id}"}
    row = await PrReviewComment.get(platform_id=first[11].id)
    assert row.state == "RESOLVED"


@pytest.mark.parametrize("deployment", ["github"], indirect=True)
@pytest.mark.parametrize("refusal", ["scopes", "forbidden"])
async def test_github_marks_the_comment_when_graphql_is_refused(deployment: Deployment, refusal: str):
    scenario = deployment.scenario
    scenario.fake.graphql_refusal = refusal  # a classic token without `repo`; an App without pull-request write
    deployment.script.play(report(GONE, KEPT))
    await deployment.deliver(pushed=False)
    await deployment.reviewed(1)
    first = {c.line: c for c in scenario.line_comments()}
    scenario.push()
    deployment.script.play(report())
    await deployment.deliver(pushed=True)
    await deployment.reviewed(2)

    assert scenario.repo.pulls[scenario.number].resolved_threads == set()
    after = {c.id: c for c in scenario.line_comments()}
    assert "Outdated:" in after[first[11].id].body and "~~" in after[first[11].id].body
    assert after[first[12].id].body == first[12].body
    row = await PrReviewComment.get(platform_id=first[11].id)
    assert row.state == "OUTDATED"
    assert await AuditEvent.filter(action="comment.outdated").count() == 1
    assert await AuditEvent.filter(action="comment.resolved").count() == 0
