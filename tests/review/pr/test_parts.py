"""The pull-request review's rules, part by part: which deliveries ask for a review, where a comment may be
anchored, how commented lines follow a push, which labels and approvals the rules give, and the bodies."""

from __future__ import annotations

import pytest

from app.review.findings import Finding
from app.review.pr.anchors import anchor
from app.review.pr.approval import decide, refusal
from app.review.pr.bodies import finding_body, fingerprints_in, is_summary, outdated_body
from app.review.pr.events import PullRequestEvent, read_event
from app.review.pr.labels import change_type, labels_for
from app.review.pr.outdated import follow, new_line_of
from app.review.rules import ApprovalRules, LabelRules
from tests.review.diffs import file_diff

SHA = "a" * 40


def github(action: str, **pull: object) -> dict:
    return {
        "action": action,
        "number": 3,
        "pull_request": {"number": 3, "state": "open", "draft": False, "head": {"sha": SHA}} | pull,
        "repository": {"full_name": "acme/shop"},
    }


def test_only_deliveries_that_change_the_code_ask_for_a_review():
    assert read_event("github", "pull_request", "synchronize", github("synchronize")) == PullRequestEvent(
        "acme/shop", 3, SHA, "synchronize"
    )
    assert "does not change the code" in read_event("github", "pull_request", "edited", github("edited"))
    assert "draft" in read_event("github", "pull_request", "opened", github("opened", draft=True))
    assert isinstance(
        read_event("github", "pull_request", "ready_for_review", github("ready_for_review")), PullRequestEvent
    )
    assert "not open" in read_event("github", "pull_request", "reopened", github("reopened", state="closed"))
    assert "head commit" in read_event("github", "pull_request", "opened", github("opened", head={"sha": "x; rm"}))
    assert "fields" in read_event("github", "pull_request", "opened", {"action": "opened"})

    def gitlab(action: str, **attributes: object) -> dict:
        base = {"iid": 5, "action": action, "state": "opened", "last_commit": {"id": SHA}}
        return {"object_attributes": base | attributes, "project": {"path_with_namespace": "g/sub/shop"}}

    assert read_event("gitlab", "merge_request", "open", gitlab("open")) == PullRequestEvent(
        "g/sub/shop", 5, SHA, "open"
    )
    assert "no new commits" in read_event("gitlab", "merge_request", "update", gitlab("update"))  # a title edit
    assert isinstance(
        read_event("gitlab", "merge_request", "update", gitlab("update", oldrev="b" * 40)), PullRequestEvent
    )
    assert "draft" in read_event("gitlab", "merge_request", "open", gitlab("open", draft=True))
    assert "does not change" in read_event("gitlab", "merge_request", "merge", gitlab("merge"))

    bitbucket = {
        "pullrequest": {"id": 9, "state": "OPEN", "source": {"commit": {"hash": SHA[:12]}}},
        "repository": {"full_name": "ws/shop"},
    }
    assert read_event("bitbucket", "pullrequest:updated", "updated", bitbucket) == PullRequestEvent(
        "ws/shop", 9, SHA[:12], "updated"
    )
    assert "does not change" in read_event("bitbucket", "pullrequest:approved", "approved", bitbucket)
    assert "number" in read_event(
        "bitbucket",
        "pullrequest:created",
        "created",
        {"pullrequest": {"id": True, "source": {"commit": {"hash": SHA}}}, "repository": {"full_name": "ws/shop"}},
    )


BEFORE = "".join(f"line_{i} = {i}\n" for i in range(1, 31))
AFTER = BEFORE.replace("line_10 = 10\n", "line_10 = 10\nadded_a = 1\nadded_b = 2\n")


def found(line: int, end_line: int | None = None, **fields: object) -> Finding:
    values = {
        "path": "m.py",
        "line": line,
        "end_line": end_line or line,
        "severity": "high",
        "category": "bug",
        "confidence": 0.9,
        "title": "t",
        "explanation": "e",
        "reviewer": "correctness",
    } | fields
    return Finding(**values)


def test_comments_anchor_on_lines_the_diff_shows_and_ranges_stay_in_one_hunk():
    diff = file_diff("m.py", BEFORE, AFTER)  # one hunk: new lines 8..15, 11-12 added
    added = anchor(found(11, 12), diff)
    assert (added.line, added.end_line, added.old_line, added.whole_range) == (11, 12, None, True)
    context = anchor(found(9), diff)
    assert (context.line, context.old_line) == (9, 9)  # an unchanged line: both numbers (GitLab needs them)
    cut = anchor(found(13, 20), diff)
    assert (cut.end_line, cut.whole_range) == (15, False)  # no committable suggestion over a cut range
    assert anchor(found(25), diff) is None and anchor(found(11), None) is None


def test_commented_lines_follow_a_push_and_changed_ones_are_outdated():
    first = BEFORE
    second = first.replace("line_3 = 3\n", "line_3 = 3\nnew_1 = 1\nnew_2 = 2\n").replace(
        "line_20 = 20\n", "line_20 = 0\n"
    )
    diff = file_diff("m.py", first, second)
    assert new_line_of(2, diff) == 2 and new_line_of(10, diff) == 12  # two lines inserted above
    assert new_line_of(20, diff) is None  # rewritten
    assert follow(10, 11, diff) == (12, 13) and follow(19, 21, diff) is None
    assert follow(5, 5, None) == (5, 5)  # the file was not touched
    removed = file_diff("m.py", first, None)
    assert follow(5, 5, removed) is None
    inserted_at_top = file_diff("m.py", first, "zero = 0\n" + first)
    assert new_line_of(1, inserted_at_top) == 2


def test_labels_name_severities_categories_and_the_kind_of_change():
    rules = LabelRules(
        enabled=True, prefix="review/", by_severity={"critical": "security-risk"}, by_category={"performance": "slow"}
    )
    labels = labels_for(rules, [("critical", "security"), ("low", "performance")], title="feat(api): add x", paths=[])
    assert labels == ["review/security-risk", "review/slow", "review/feature"]
    assert labels_for(LabelRules(), [("critical", "x")], title="fix", paths=[]) == []
    assert change_type("Update README", ["README.md", "docs/setup.rst"]) == "docs"
    assert change_type("More cases", ["tests/test_cache.py", "src/cache.test.ts"]) == "tests"
    assert change_type("Crash when the key is missing", ["app/cache.py"]) == "fix"
    assert change_type("Refresh things", ["app/cache.py"]) is None


@pytest.mark.parametrize(
    ("rules", "severities", "expected"),
    [
        (ApprovalRules(approve_when_clean=True), ["medium"], "APPROVE"),
        (ApprovalRules(approve_when_clean=True), ["high"], None),
        (ApprovalRules(request_changes=True), ["high", "low"], "REQUEST_CHANGES"),
        (ApprovalRules(request_changes=True, block_on="critical"), ["high"], None),
        (ApprovalRules(), ["critical"], None),
    ],
)
def test_the_rules_decide_what_approval_would_be_given(rules, severities, expected):
    assert decide(rules, severities) == expected


def test_approval_is_refused_without_permission_on_the_bots_own_pull_request_and_where_the_api_cannot():
    allowed = {
        "may_approve": True,
        "may_request_changes": True,
        "connection": "gh",
        "platform_can_request_changes": True,
    }
    assert refusal("APPROVE", author="mona", bot=("octocat",), **allowed) is None
    assert "opened by OctoCat" in refusal("APPROVE", author="OctoCat", bot=("octocat",), **allowed)
    assert "not allowed to approve" in refusal(
        "APPROVE", author="mona", bot=("octocat",), **allowed | {"may_approve": False}
    )
    assert "no way to request changes" in refusal(
        "REQUEST_CHANGES", author="mona", bot=("bot",), **allowed | {"platform_can_request_changes": False}
    )


def test_bodies_carry_their_marker_and_a_suggestion_fence_the_code_cannot_close():
    finding = found(11, 12, suggestion="    text = '```'\nother = 2", title="Fence")
    body = finding_body(finding, platform="github", suggestion_lines=2)
    assert "````suggestion\n    text = '```'\nother = 2\n````" in body
    assert fingerprints_in(body) == [finding.fingerprint] and not is_summary(body)
    gitlab = finding_body(finding, platform="gitlab", suggestion_lines=2)
    assert "````suggestion:-0+1\n" in gitlab
    bitbucket = finding_body(finding, platform="bitbucket", suggestion_lines=2)
    assert "Suggested change:" in bitbucket and f"[//]: # (adjutant:finding {finding.fingerprint})" in bitbucket
    cut_range = finding_body(finding, platform="github", suggestion_lines=None)
    assert "suggestion" not in cut_range.split("Suggested change:")[0]
    marked = outdated_body(
        severity="high", category="bug", title="Fence", fingerprint=finding.fingerprint, sha=SHA, platform="github"
    )
    assert "~~" in marked and fingerprints_in(marked) == [finding.fingerprint]
