"""Pull-request review end to end on each platform: a signed webhook becomes a review job, whose anchored
comments and one summary land on the fake; a second push is reviewed incrementally (only the new commits'
diff reaches the model), edits the same summary, posts no finding twice, and marks or resolves the comment
whose line it rewrote; findings off the diff are dropped; approval is refused until a maintainer allows it."""

from __future__ import annotations

import json

import pytest

from app.db.models import AuditEvent, PrReviewComment
from tests.review.pr.conftest import Deployment
from tests.review.pr.scenarios import PATH
from tests.review.scripted import finding, report

MISSING_KEY = finding(
    PATH,
    11,
    "Missing key returns None",
    severity="high",
    category="correctness",
    confidence=0.9,
    explanation="A missing key makes get() return None to callers that expect a value.",
    evidence="value = CACHE.get(key)",
    suggestion="    value = CACHE[key]",
)
NOISY_LOG = finding(
    PATH,
    12,
    "Logging every read floods the log",
    severity="medium",
    category="observability",
    confidence=0.85,
    explanation="Each lookup writes a log line; hot paths will flood it.",
    evidence='log("read", key)',
)
OFF_DIFF = finding(
    PATH,
    1,
    "Module docstring is vague",
    severity="low",
    confidence=0.9,
    explanation="The docstring does not say what is cached.",
    evidence='"""A small cache."""',
)
OTHER_FILE = finding("README.md", 3, "Docs not updated", severity="medium", evidence="whatever changed")
MISSING_KEY_AGAIN = MISSING_KEY | {"line": 12, "evidence": "value = CACHE.get(key, MISSING)"}
SENTINEL = finding(
    PATH,
    12,
    "Sentinel escapes to callers",
    severity="high",
    category="error-handling",
    confidence=0.9,
    explanation="The sentinel object escapes to every caller that checks for None.",
    evidence="value = CACHE.get(key, MISSING)",
)
SUGGESTION = {"github": "```suggestion\n", "gitlab": "```suggestion:-0+0\n", "bitbucket": "Suggested change:"}
ALL = pytest.mark.parametrize("deployment", ["github", "gitlab", "bitbucket"], indirect=True)


@ALL
async def test_a_pull_request_is_reviewed_then_reviewed_again_incrementally(deployment: Deployment):
    scenario, platform = deployment.scenario, deployment.scenario.platform
    deployment.script.play(report(MISSING_KEY, NOISY_LOG, OFF_DIFF, OTHER_FILE))
    answer = await deployment.deliver(pushed=False)
    assert answer.status_code == 202 and answer.json()["data"]["accepted"], answer.text
    (job,) = await deployment.reviewed(1)
    assert job.result["comments_posted"] == 2 and job.result["approval"] is None, job.result

    # Two comments anchored on the added lines; the suggestion is committable where the platform allows it.
    first = {c.line: c for c in scenario.line_comments()}
    assert sorted(first) == [11, 12] and {c.path for c in first.values()} == {PATH}
    assert SUGGESTION[platform] in first[11].body and "    value = CACHE[key]" in first[11].body
    assert not any(c.done for c in first.values())
    ((summary_id, summary),) = scenario.summaries()
    assert "the whole pull request" in summary and "Missing key returns None" in summary
    assert "not allowed to request changes" in summary
    assert scenario.labels() == ([] if platform == "bitbucket" else ["review/needs-fix", "review/fix"])
    assert scenario.reviews() == []

    # The review over the API: what was posted, what was dropped and why; approval refused and audited.
    page = (await deployment.api("GET", "/v1/reviews")).json()["data"]
    (listed,) = page["reviews"]
    assert (listed["platform"], listed["status"], listed["incremental"]) == (platform, "COMPLETED", False)
    detail = (await deployment.api("GET", f"/v1/reviews/{listed['id']}")).json()["data"]
    reasons = {d["finding"]["title"]: d["reason"].split(":")[0] for d in detail["dropped"]}
    assert reasons == {"Module docstring is vague": "off_diff", "Docs not updated": "not_in_diff"}
    assert sorted((c["line"], c["state"]) for c in detail["comments"]) == [(11, "POSTED"), (12, "POSTED")]
    noisy = next(c["fingerprint"] for c in detail["comments"] if c["line"] == 12)
    assert detail["approval"]["decision"] == "REQUEST_CHANGES" and not detail["approval"]["done"]
    refused = await AuditEvent.get(team_id=deployment.team_id, action="approval.refused")
    assert refused.actor_type == "bot" and "not allowed to request changes" in refused.reason

    # Only a maintainer may let the review request changes; another team's reviews stay invisible.
    allow = {"may_approve": False, "may_request_changes": True}
    path = f"/v1/reviews/connections/{deployment.connection_id}/approvals"
    assert (await deployment.api("PUT", path, token=deployment.member, json=allow)).status_code == 403
    assert (await deployment.api("PUT", path, json=allow)).json()["data"]["may_request_changes"] is True
    stranger = await deployment.service.issue_token(email="mallory@example.com", team="other")
    assert (await deployment.api("GET", f"/v1/reviews/{listed['id']}", token=stranger)).status_code == 404
    assert (await deployment.api("PUT", path, token=stranger, json=allow)).status_code == 404
    assert (await deployment.api("GET", "/v1/reviews", token=stranger)).json()["data"]["reviews"] == []
    for odd in ("/v1/reviews/abc", "/v1/reviews/connections/%C3%A9%C3%A9%C3%A9/approvals"):  # never reach a query
        assert (await deployment.api("GET", odd)).status_code == 404, odd

    # A second push: only its commits are reviewed.
    scenario.push()
    deployment.script.play(report(MISSING_KEY_AGAIN, SENTINEL))
    assert (await deployment.deliver(pushed=True)).status_code == 202
    jobs = await deployment.reviewed(2)
    assert jobs[1].result["incremental"] is True and jobs[1].result["comments_posted"] == 1, jobs[1].result
    (call,) = deployment.script.calls()
    sent = json.dumps(call)
    assert "+     value = CACHE.get(key, MISSING)" in sent
    assert "+     log(" not in sent and "-     return CACHE[key]" not in sent  # the first commit's changes

    after = scenario.line_comments()
    assert len(after) == 3  # the re-reported finding was not posted again
    by_id = {c.id: c for c in after}
    assert by_id[first[11].id].done and not by_id[first[12].id].done  # the rewritten line's comment only
    (new,) = [c for c in after if c.id not in {first[11].id, first[12].id}]
    assert (new.line, "Sentinel escapes to callers" in new.body) == (12, True)
    ((edited_id, edited),) = scenario.summaries()
    assert edited_id == summary_id and edited != summary and "the commits since" in edited
    assert "Sentinel escapes to callers" in edited and "Missing key returns None" not in edited.split("###")[2]
    moved = await PrReviewComment.get(fingerprint=noisy)
    assert (moved.line, moved.state) == (13, "POSTED")
    expected_reviews = [] if platform == "gitlab" else ["CHANGES_REQUESTED"]
    assert scenario.reviews() == expected_reviews
    actions = [e.action for e in await AuditEvent.filter(team_id=deployment.team_id).order_by("id")]
    assert actions.count("comment.posted") == 3 and actions.count("summary.posted") == 1
    assert actions.count("summary.edited") == 1 and "settings.changed" in actions
    assert "comment.resolved" in actions and "comment.outdated" not in actions  # GitHub: through GraphQL
    if platform == "gitlab":
        assert actions.count("approval.refused") == 2  # GitLab's API cannot request changes
    else:
        assert actions.count("approval.changes_requested") == 1

    # The same head delivered again is not reviewed again.
    assert (await deployment.deliver(pushed=True)).status_code == 202
    assert len(await deployment.reviewed(2)) == 2
    assert len(scenario.line_comments()) == 3 and len(scenario.summaries()) == 1
