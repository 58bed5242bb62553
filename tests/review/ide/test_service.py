"""The IDE review's REST rules (docs/review-protocol.md §4, §7): lazy default agents, custom agents and their
conflicts, pre-process and its rejection rule, ownership of every id, feedback replaced per user, the fix
query's bounds, the history's shape and filters, cancel."""

from __future__ import annotations

import asyncio

from app.db.models import IdeReview, IdeReviewAgent, IdeReviewComment, IdeReviewCommentFeedback
from app.db.repositories import ide_reviews as repo
from app.review.ide.agents import PREDEFINED
from tests.review.ide.conftest import DIFF, TOKEN_LIMIT, User, comment, completed_review, pre_process_body


async def test_first_listings_create_the_five_predefined_agents_once(ada: User):
    first, second = await asyncio.gather(ada.data("GET", "/agents"), ada.data("GET", "/agents/"))
    assert [a["id"] for a in first["agents"]] == [a["id"] for a in second["agents"]]
    assert {a["agent_name"] for a in first["agents"]} == set(PREDEFINED)
    assert first["count"] == 5 and not any(a["is_custom_agent"] or a["custom_prompt"] for a in first["agents"])
    assert await IdeReviewAgent.filter(user_id=ada.principal.user_id).count() == 5


async def test_custom_agents_have_unique_names_and_predefined_ones_keep_theirs(ada: User, eve: User):
    security = next(a for a in (await ada.data("GET", "/agents"))["agents"] if a["agent_name"] == "security")
    created = await ada.data("POST", "/agents", json={"name": "Naming", "custom_prompt": "Flag unclear names."})
    assert created["is_custom_agent"] and created["agent_name"] == "custom_commenter_agent"
    duplicate = await ada.call("POST", "/agents", json={"name": "Naming", "custom_prompt": "again"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["message"] == "CONFLICT"
    assert (await ada.call("POST", "/agents", json={"name": "Empty", "custom_prompt": ""})).status_code == 422
    # eve may use the same name: names are unique per principal
    assert (await eve.call("POST", "/agents", json={"name": "Naming", "custom_prompt": "x"})).status_code == 200

    renamed = await ada.data("PATCH", f"/agents/{security['id']}", json={"custom_prompt": "Check SQL.", "name": "Mine"})
    assert renamed["display_name"] == "Security" and renamed["custom_prompt"] == "Check SQL."
    clash = await ada.call("PATCH", f"/agents/{created['id']}", json={"custom_prompt": "p", "name": "Security"})
    assert clash.status_code == 409
    assert (await IdeReviewAgent.get(id=created["id"])).custom_prompt == "Flag unclear names."

    assert (await ada.call("DELETE", f"/agents/{security['id']}")).status_code == 409
    assert (await ada.data("DELETE", f"/agents/{created['id']}"))["message"]
    listed = await ada.data("GET", "/agents")
    assert created["id"] not in [a["id"] for a in listed["agents"]] and listed["count"] == 5
    # the deleted name is free again
    assert (await ada.call("POST", "/agents", json={"name": "Naming", "custom_prompt": "x"})).status_code == 200


async def test_foreign_and_malformed_agent_ids(ada: User, eve: User):
    custom = await ada.data("POST", "/agents", json={"name": "Mine", "custom_prompt": "keep"})
    for method, body in (("PATCH", {"custom_prompt": "stolen", "name": "Stolen"}), ("DELETE", None)):
        foreign = await eve.call(method, f"/agents/{custom['id']}", json=body)
        unknown = await eve.call(method, "/agents/987654", json=body)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["error"] == unknown.json()["error"]
    assert (await ada.call("PATCH", "/agents/abc", json={"custom_prompt": "x"})).status_code == 422
    assert (await ada.call("DELETE", "/agents/99999999999999999999999")).status_code == 404
    stored = await IdeReviewAgent.get(id=custom["id"])
    assert (stored.display_name, stored.custom_prompt, stored.deleted_at) == ("Mine", "keep", None)


async def test_pre_process_stores_the_review_with_a_hidden_session(ada: User):
    snapshot_diff = "--- a/b.py\n+++ b/b.py\n@@ -0,0 +1 @@\n+x = 1"  # no `diff --git`, no trailing newline
    body = pre_process_body(("app/cache.py", DIFF), ("b.py", snapshot_diff))
    created = await ada.data("POST", "/pre-process", json=body)
    review = await IdeReview.get(id=created["review_id"])
    assert review.status == "IN_PROGRESS" and review.session_id == created["session_id"] > 0
    assert review.repo_id == created["repo_id"]
    assert review.reviewed_files == ["app/cache.py", "b.py"] and review.loc == 2
    assert all(item["diff"].endswith("\n") for item in review.file_diffs)
    again = await ada.data(
        "GET", "/repos/get-repo-id", params={"repo_name": "shop", "origin_url": "git@example.com:team/shop.git"}
    )
    assert again["repo_id"] == created["repo_id"]
    sessions = (await ada.service.request("GET", "/end_user/v1/history/sessions", token=ada.token)).json()["data"]
    assert created["session_id"] not in [s["id"] for s in sessions["sessions"]]
    # a newer review of the same repository supersedes the unfinished one
    newer = await ada.data("POST", "/pre-process", json=body)
    assert (await IdeReview.get(id=created["review_id"])).status == "CANCELLED"
    assert (await IdeReview.get(id=newer["review_id"])).status == "IN_PROGRESS"


async def test_empty_and_oversized_diffs_are_stored_as_rejected_reviews(ada: User):
    empty = await ada.data("POST", "/pre-process", json=pre_process_body(("a.py", ""), ("b.py", "  \n")))
    assert (await IdeReview.get(id=empty["review_id"])).status == "REJECTED_NO_DIFF"
    none = await ada.data("POST", "/pre-process", json={**pre_process_body(), "repo_name": "other"})
    assert (await IdeReview.get(id=none["review_id"])).status == "REJECTED_NO_DIFF"
    big = "--- a/big.py\n+++ b/big.py\n@@ -0,0 +1,800 @@\n" + "".join(
        f"+value_{i} = compute({i})\n" for i in range(800)
    )
    large = await ada.data("POST", "/pre-process", json=pre_process_body(("big.py", big), repo_name="big"))
    review = await IdeReview.get(id=large["review_id"])
    assert review.status == "REJECTED_LARGE_SIZE" and review.diff_tokens > TOKEN_LIMIT
    assert review.file_diffs[0]["diff"] == big  # kept, so the rejection can name its size


async def test_bad_pre_process_bodies_are_refused_and_store_nothing(ada: User):
    for path in ("../etc/passwd", "/abs/path.py", "a/../b.py", "a//b.py", "C:/x.py"):
        response = await ada.call("POST", "/pre-process", json=pre_process_body((path, DIFF)))
        assert response.status_code == 422, (path, response.text)
    bad_type = {**pre_process_body(("a.py", DIFF)), "review_type": "EVERYTHING"}
    assert (await ada.call("POST", "/pre-process", json=bad_type)).status_code == 422
    assert await IdeReview.all().count() == 0


async def test_history_lists_completed_reviews_newest_first_with_every_reviewed_file(ada: User, eve: User):
    agents = (await ada.data("GET", "/agents"))["agents"]
    first, second = agents[0]["id"], agents[1]["id"]
    custom = await ada.data("POST", "/agents", json={"name": "Gone", "custom_prompt": "p"})
    older = await completed_review(ada, [comment(first)], repo_name="shop")
    newer = await completed_review(
        ada,
        [comment(first, line=3), {**comment(second, line=3), "agent_ids": [first, custom["id"]], "tag": "suggestion"}],
        repo_name="shop",
        source_branch="other",
    )
    await ada.data("DELETE", f"/agents/{custom['id']}")
    listed = await ada.data("GET", "/history", params={"repo_id": "0"})
    assert [r["id"] for r in listed] == [newer.id, older.id]
    top = listed[0]
    assert set(top["comments"]) == {"app/cache.py", "app/other.py"} and top["comments"]["app/other.py"] == []
    assert top["meta"] == {"file_count": 2, "comment_count": 2}
    assert top["review_datetime"].endswith("+00:00") and top["execution_time_seconds"] == 3
    summary = {s["id"]: (s["display_name"], s["count"]) for s in top["agent_summary"]}
    assert summary == {first: (agents[0]["display_name"], 2), custom["id"]: ("Gone", 1)}
    shown = top["comments"]["app/cache.py"][0]
    assert shown["comment_status"] == "NOT_REVIEWED" and shown["feedback"] is None and shown["line_number"] == 3
    assert top["tag_summary"] == {"bug": 1, "suggestion": 1}

    assert [r["id"] for r in await ada.data("GET", "/history", params={"source_branch": "other"})] == [newer.id]
    assert [r["id"] for r in await ada.data("GET", "/history", params={"repo_id": str(older.repo_id)})] == [
        newer.id,
        older.id,
    ]
    assert await eve.data("GET", "/history", params={"repo_id": str(older.repo_id)}) == []
    assert (await ada.call("GET", "/history", params={"repo_id": "x"})).status_code == 422


async def test_history_is_capped_and_never_lists_unfinished_or_cancelled_reviews(ada: User):
    ada.service.app.ctx.ide_reviews.limits = type(ada.service.app.ctx.ide_reviews.limits)(history_cap=2)
    ids = [(await completed_review(ada, [], repo_name=f"r{i}")).id for i in range(3)]
    running = await ada.data("POST", "/pre-process", json=pre_process_body(("a.py", DIFF), repo_name="run"))
    cancelled = await ada.data("POST", "/pre-process", json=pre_process_body(("a.py", DIFF), repo_name="can"))
    assert (await ada.data("GET", "/cancel_review", params={"review_id": cancelled["review_id"]}))["status"] == (
        "CANCELLED"
    )
    listed = [r["id"] for r in await ada.data("GET", "/history")]
    assert listed == [ids[2], ids[1]] and running["review_id"] not in listed


async def test_cancel_is_idempotent_and_owned(ada: User, eve: User):
    created = await ada.data("POST", "/pre-process", json=pre_process_body(("a.py", DIFF)))
    foreign = await eve.call("GET", "/cancel_review", params={"review_id": created["review_id"]})
    assert foreign.status_code == 404
    assert (await IdeReview.get(id=created["review_id"])).status == "IN_PROGRESS"
    for _ in range(2):
        answer = await ada.data("GET", "/cancel_review", params={"review_id": str(created["review_id"])})
        assert answer["status"] == "CANCELLED"
    assert (await IdeReview.get(id=created["review_id"])).status == "CANCELLED"
    done = await completed_review(ada, [], repo_name="done")
    assert (await ada.data("GET", "/cancel_review", params={"review_id": done.id}))["status"] == "CANCELLED"
    assert (await IdeReview.get(id=done.id)).status == "COMPLETED"  # an ended review stays as it ended


async def test_comment_status_and_feedback_last_write_wins_per_user(ada: User, eve: User):
    agent = (await ada.data("GET", "/agents"))["agents"][0]["id"]
    review = await completed_review(ada, [comment(agent)])
    comment_id = (await IdeReviewComment.get(review_id=review.id)).id
    status = "/comments/update-comment-status"
    for value in ("RESOLVED", "NOT_REVIEWED", "REJECTED"):
        assert (
            await ada.call("POST", status, params={"comment_id": comment_id, "status": value}, json={})
        ).status_code == 200
    assert (await ada.call("POST", status, params={"comment_id": comment_id, "status": "DONE"})).status_code == 422
    foreign = await eve.call("POST", status, params={"comment_id": comment_id, "status": "RESOLVED"})
    assert foreign.status_code == 404

    feedback = f"/comments/{comment_id}/feedback"
    await ada.data("POST", feedback, json={"like": False})
    await ada.data("POST", feedback, json={"like": True})
    answer = await ada.data("POST", feedback, json={"like": True, "feedback_comment": "useful"})
    assert answer == {"comment_id": comment_id, "like": True, "feedback_comment": "useful"}
    assert (await eve.call("POST", feedback, json={"like": False})).status_code == 404
    assert (await ada.call("POST", feedback, json={"like": True, "feedback_comment": "x" * 4001})).status_code == 422
    rows = await IdeReviewCommentFeedback.filter(comment_id=comment_id)
    assert [(r.liked, r.feedback_comment) for r in rows] == [(True, "useful")]
    shown = (await ada.data("GET", "/history"))[0]["comments"]["app/cache.py"][0]
    assert shown["comment_status"] == "REJECTED" and shown["feedback"] == {"like": True, "feedback_comment": "useful"}
    await ada.data("POST", feedback, json={"like": False})  # a later thumb without text clears the text
    assert (await IdeReviewCommentFeedback.get(comment_id=comment_id)).feedback_comment is None
    assert await repo.feedback_by_category(ada.principal.team_id, review.repo_id) == [
        {"category": "correctness", "liked": 0, "disliked": 1}
    ]


async def test_fix_query_names_the_place_and_stays_bounded(ada: User, eve: User):
    agent = (await ada.data("GET", "/agents"))["agents"][0]["id"]
    huge = "x = 1\n" * 20_000
    review = await completed_review(ada, [comment(agent, line=7, corrective_code=huge)])
    comment_id = (await IdeReviewComment.get(review_id=review.id)).id
    text = (await ada.data("GET", "/comments/generate-fix-query", params={"comment_id": comment_id}))["fix_query"]
    limits = ada.service.app.ctx.ide_reviews.limits
    assert "`app/cache.py`, line 7" in text and "Cache miss returns None" in text and "cut here" in text
    assert len(text) <= limits.fix_query_chars
    unknown = await eve.call("GET", "/comments/generate-fix-query", params={"comment_id": comment_id})
    assert unknown.status_code == 404
    assert (await ada.call("GET", "/comments/generate-fix-query", params={"comment_id": "1.0"})).status_code == 422
