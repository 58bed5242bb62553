"""An IDE thumb is a feedback signal of the review's repository and the comment's category: one per user and
comment, the last vote wins, and it shows in the team's precision of that repository."""

from __future__ import annotations

from app.db.models import AuditEvent, IdeReview, IdeReviewComment, ReviewFeedbackSignal
from app.db.repositories import ide_review_runs as runs_repo
from app.db.repositories import review_feedback as signals
from app.review.findings import Finding
from tests.review.ide.conftest import DIFF, User, completed_review, pre_process_body
from tests.review.ide.test_service import comment


async def test_ide_thumbs_count_once_per_user_and_the_last_vote_wins(ada: User, eve: User):
    agent = (await ada.data("GET", "/agents"))["agents"][0]["id"]
    review = await completed_review(ada, [comment(agent, category="Performance")], repo_name="shop")
    comment_id = (await IdeReviewComment.get(review_id=review.id)).id
    feedback = f"/comments/{comment_id}/feedback"
    await ada.data("POST", feedback, json={"like": False})
    assert await signals.tallies(ada.principal.team_id, "shop") == {"performance": signals.Tally(0, 1)}
    await ada.data("POST", feedback, json={"like": True})
    await ada.data("POST", feedback, json={"like": True})
    assert await signals.tallies(ada.principal.team_id, "shop") == {"performance": signals.Tally(1, 0)}
    assert await ReviewFeedbackSignal.filter(source="ide").count() == 1
    assert (await eve.call("POST", feedback, json={"like": False})).status_code == 404  # not eve's comment
    assert await ReviewFeedbackSignal.filter(source="ide").count() == 1

    shown = await ada.service.request(
        "GET", "/v1/reviews/precision", token=ada.token, client_headers=False, params={"repository": "shop"}
    )
    (category,) = shown.json()["data"]["categories"]
    assert (category["category"], category["useful"], category["precision"]) == ("performance", 1, 0.6667)


async def test_post_process_raises_a_demoted_categorys_bar_above_its_agents(ada: User):
    agents = (await ada.data("GET", "/agents"))["agents"]
    agent = next(a for a in agents if a["agent_name"] != "DOCUMENTATION")  # threshold 0.9
    created = await ada.data("POST", "/pre-process", json=pre_process_body(("app/cache.py", DIFF), repo_name="shop"))
    review = await IdeReview.get(id=created["review_id"])
    run = await runs_repo.start_run(review, agent["id"])
    assert run is not None
    found = [
        Finding(
            path="app/cache.py",
            line=2,
            end_line=2,
            severity="medium",
            category=category,
            confidence=0.95,
            title=f"A {category} problem",
            explanation="explained",
            evidence="value = cache.get(key)",
            reviewer="security",
        ).model_dump(mode="json")
        for category in ("style", "correctness")
    ]
    assert await runs_repo.conclude_step(run, status="COMPLETED", conversation=None, findings=found)
    for index in range(5):  # style: (0 + 1) / (5 + 2), below the floor
        vote = signals.Signal("shop", "style", "ide", f"old-{index}", "ide_vote", str(index), False)
        await signals.record(ada.principal.team_id, vote)

    done = await ada.service.app.ctx.ide_reviews.post_process.run(ada.principal, review.id)
    assert done.ok, done.message
    kept = await IdeReviewComment.filter(review_id=review.id)
    assert [c.category for c in kept] == ["correctness"]  # 0.95 is under style's 0.9 + 0.15
    assert await AuditEvent.filter(action="category.demoted", target="shop:style").count() == 1
