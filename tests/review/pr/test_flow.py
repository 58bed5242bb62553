"""The review flow's guarantees apart from webhooks, on the fake GitHub: a dry run posts nothing, the bot never
approves its own pull request, a run that died after posting is not posted again, a force-push is reviewed
whole, and two runs of one pull request never post at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from app.db.models import AuditEvent, PrReview, PrReviewComment
from app.db.repositories import pr_reviews as store
from app.db.repositories.identity import get_or_create_team
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import ConnectionInput
from app.review.pr.flow import PullRequestReview, ReviewBusy, ReviewOutcome, ReviewRequest
from app.review.pr.service import ReviewKit, review_kit
from app.runtime.settings import Settings
from tests.api.scripted_models import Script
from tests.review.pr.conftest import SECRET, review_settings
from tests.review.pr.scenarios import PATH, GitHubScenario
from tests.review.scripted import finding, report

CLEAN_RULES = """[review]
disable = ["security", "performance", "maintainability", "business_logic"]
[review.approval]
approve_when_clean = true
"""
LOW = finding(
    PATH,
    12,
    "Log line lacks context",
    severity="low",
    category="observability",
    confidence=0.9,
    explanation="The log line does not say which cache.",
    evidence='log("read", key)',
)


@dataclass
class World:
    settings: Settings
    scenario: GitHubScenario
    script: Script
    kit: ReviewKit
    connection: ConnectionInfo
    team_id: int

    async def review(self, *, posting: bool = True, head: str | None = None) -> ReviewOutcome:
        request = ReviewRequest(
            team_id=self.team_id,
            connection=self.connection,
            repo="acme/shop",
            number=self.scenario.number,
            head_sha=head,
            trigger="cli",
            posting=posting,
        )
        async with self.kit.platform(self.connection) as platform:
            return await PullRequestReview(self.settings, self.kit.model).run(request, platform)


@pytest_asyncio.fixture
async def world(database_url: str, redis_url: str, db: None, tmp_path: Path) -> AsyncIterator[World]:
    script = Script(tmp_path, "reviewer")
    settings = review_settings(database_url, redis_url, script)
    scenario = GitHubScenario().start()
    scenario.seed()
    scenario.repo.add_file(".adjutant.toml", CLEAN_RULES)
    team = await get_or_create_team("core")
    async with review_kit(settings, redis=None) as kit:
        view = await kit.connections.add(
            team.id,
            None,
            ConnectionInput(
                kind="github", name="gh", base_url=scenario.url, credentials=scenario.credentials, webhook_secret=SECRET
            ),
        )
        await store.set_connection_settings(
            team.id,
            (await kit.connections.connection(team.id, view.id)).id,
            may_approve=True,
            may_request_changes=True,
            user_id=None,
        )
        connection = await kit.connections.connection(team.id, view.id)
        yield World(settings, scenario, script, kit, connection, team.id)
    scenario.stop()


async def test_a_dry_run_says_what_it_would_post_and_changes_nothing(world: World):
    world.script.play(report(LOW))
    outcome = await world.review(posting=False)
    assert outcome.status == "COMPLETED" and [d.anchor.line for d in outcome.drafts] == [12]
    assert outcome.approval == "APPROVE" and "would be done when posting" in outcome.summary
    assert "Log line lacks context" in outcome.summary and outcome.run_id is None
    assert [r.method for r in world.scenario.fake.requests if r.method != "GET"] == []
    assert await PrReview.all().count() == 0 and await PrReviewComment.all().count() == 0


async def test_the_bot_never_approves_its_own_pull_request(world: World):
    world.scenario.repo.pulls[7].author = "octocat"  # the identity the connection's token acts as
    world.script.play(report())
    outcome = await world.review()
    assert outcome.approval == "APPROVE" and not outcome.approval_done
    assert "opened by octocat" in (outcome.approval_refused or "")
    assert world.scenario.reviews() == []
    refused = await AuditEvent.get(action="approval.refused")
    assert "opened by octocat" in refused.reason and refused.details["review_id"] == outcome.run_id
    # Someone else's pull request, clean: approved once, and not again for the same verdict.
    world.scenario.repo.pulls[7].author = "grace"
    world.scenario.push()
    world.script.play(report())
    assert (await world.review()).approval_done
    assert world.scenario.reviews() == ["APPROVED"]


async def test_a_comment_posted_by_a_run_that_died_is_recorded_not_posted_again(world: World):
    world.script.play(report(LOW))
    dry = await world.review(posting=False)
    (draft,) = dry.drafts
    # The earlier run claimed the finding, posted it, and died before recording the comment's id.
    pull = await store.pull_for(world.team_id, world.connection.id, "acme/shop", 7, title="t", author=None, url="")
    run = await store.start_run(pull, head_sha=world.scenario.first, trigger="cli", posting=True, job_id=None)
    await store.claim_comment(
        pull,
        run,
        {
            "fingerprint": draft.finding.fingerprint,
            "path": PATH,
            "line": 12,
            "end_line": 12,
            "severity": "low",
            "category": "observability",
            "title": draft.finding.title,
            "commit_sha": world.scenario.first,
        },
    )
    await store.finish_run(run, "FAILED", reason="the worker died")
    world.scenario.repo.pulls[7].review_comments.append(
        {
            "id": 4242,
            "pull_request_review_id": 1,
            "path": PATH,
            "line": 12,
            "side": "RIGHT",
            "body": draft.body,
            "user": {"login": "octocat"},
            "commit_id": world.scenario.first,
            "html_url": "http://x/r4242",
        }
    )
    world.script.play(report(LOW))
    outcome = await world.review()
    assert outcome.status == "COMPLETED"
    assert len(world.scenario.repo.pulls[7].review_comments) == 1  # not posted twice
    (row,) = await PrReviewComment.all()
    assert (row.state, row.platform_id) == ("POSTED", "4242")


async def test_a_force_push_is_reviewed_whole_and_a_busy_pull_request_waits(world: World):
    world.script.play(report())
    assert (await world.review()).incremental is False
    # The branch was rewritten: the new head does not build on the reviewed one.
    repo = world.scenario.repo
    rewritten = repo.add_commit("rewritten history", files=(PATH,))
    repo.commits[0]["parents"] = [world.scenario.base]
    repo.pulls[7].head_sha = rewritten
    repo.compare_files[f"{world.scenario.first}...{rewritten}"] = []
    world.script.play(report())
    outcome = await world.review()
    assert (outcome.status, outcome.incremental) == ("COMPLETED", False)
    (call,) = world.script.calls()
    assert "+     value = CACHE.get(key)" in str(call)  # the whole pull request's diff again
    # Another run holds the pull request: this one is refused, to be tried again.
    pull = await store.find_pull(world.connection.id, "acme/shop", 7)
    assert await store.lease(pull.id, "job:other", 60)
    repo.pulls[7].head_sha = repo.add_commit("one more", files=(PATH,))
    with pytest.raises(ReviewBusy):
        await world.review()
