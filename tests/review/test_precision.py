"""Precision with its prior, the demotion rule and its repository overrides, and the command-permission
mapping from each platform's own permission to a team role."""

from __future__ import annotations

import pytest

from app.db.repositories.review_feedback import Tally
from app.errors import ReviewRulesInvalid
from app.review.pr.permissions import allowed, github_role, gitlab_role
from app.review.precision import Demotions, PrecisionPolicy, assess, precision_of
from app.review.rules import load_rules
from tests.conftest import make_settings


def policy(**overrides) -> PrecisionPolicy:
    values = {"floor": 0.5, "min_signals": 5, "demotion": "raise_threshold", "step": 0.15, "base_threshold": 0.7}
    return PrecisionPolicy(**(values | overrides))


def test_the_prior_keeps_two_votes_from_swinging_precision():
    assert precision_of(Tally(0, 0)) == 0.5
    assert precision_of(Tally(0, 2)) == 0.25  # not 0.0
    assert precision_of(Tally(2, 0)) == 0.75  # not 1.0
    assert precision_of(Tally(8, 2)) == pytest.approx(9 / 12, abs=1e-4)


def test_a_category_is_demoted_only_with_enough_signals_below_the_floor():
    tallies = {"style": Tally(0, 4), "security": Tally(1, 5), "correctness": Tally(6, 4)}
    found = {c.category: c for c in assess(tallies, policy())}
    assert not found["style"].demoted  # 4 signals: under min_signals, however bad
    assert found["security"].demoted and found["security"].precision == pytest.approx(2 / 8)
    assert not found["correctness"].demoted  # 7/12 = 0.58
    raised = Demotions(policy(), list(found.values()))
    assert raised.thresholds() == {"security": 0.85} and raised.summary_only() == frozenset()
    listed = Demotions(policy(demotion="summary_only"), list(found.values()))
    assert listed.thresholds() == {} and listed.summary_only() == {"security"}
    assert policy(base_threshold=0.95).raised_threshold == 1.0


def test_repository_rules_override_the_servers_policy(database_url: str, redis_url: str):
    review = make_settings(database_url, redis_url).review
    assert (review.precision_floor, review.min_signals, review.demotion) == (0.5, 5, "raise_threshold")
    rules = load_rules('[review]\nprecision_floor = 0.7\nmin_signals = 3\ndemotion = "summary_only"\n')
    chosen = PrecisionPolicy.of(review, rules)
    assert (chosen.floor, chosen.min_signals, chosen.demotion) == (0.7, 3, "summary_only")
    assert PrecisionPolicy.of(review).floor == 0.5
    with pytest.raises(ReviewRulesInvalid, match=r"review\.demotion"):
        load_rules('[review]\ndemotion = "hide"\n')
    with pytest.raises(ReviewRulesInvalid, match=r"review\.precision_floor"):
        load_rules("[review]\nprecision_floor = 1.5\n")


def test_command_roles_come_from_the_rules_and_the_platform_permission():
    assert load_rules(None).commands.model_dump() == {"review": "member", "ask": "member", "ignore": "maintainer"}
    rules = load_rules('[review.commands]\nreview = "anyone"\nignore = "admin"\n').commands
    assert (rules.review, rules.ask, rules.ignore) == ("anyone", "member", "admin")
    with pytest.raises(ReviewRulesInvalid, match=r"review\.commands\.ask"):
        load_rules('[review.commands]\nask = "owner"\n')
    with pytest.raises(ReviewRulesInvalid, match=r"review\.commands\.merge"):
        load_rules('[review.commands]\nmerge = "member"\n')
    roles = [github_role(p) for p in ("admin", "maintain", "write", "triage", "read", None)]
    assert roles == ["admin", "maintainer", "member", None, None, None]
    assert [gitlab_role(level) for level in (50, 40, 30, 20, 10, None)] == [
        "admin",
        "maintainer",
        "member",
        None,
        None,
        None,
    ]
    assert allowed("maintainer", "admin") and not allowed("maintainer", "member") and not allowed("member", None)
    assert allowed("anyone", None)


async def test_the_history_counts_every_signal_up_to_each_day_and_only_the_repository_asked_for(db):
    from datetime import UTC, datetime, timedelta

    from app.db.models import ReviewFeedbackSignal
    from app.db.repositories import identity
    from app.db.repositories import review_feedback as store
    from app.db.repositories.review_feedback import Signal
    from app.review.precision import precision_history

    team = await identity.get_or_create_team("core")
    other = await identity.get_or_create_team("other")
    today = datetime.now(UTC).replace(hour=12)
    comments = iter(range(100))

    async def signal(days_ago: int, category: str, useful: bool, *, team_id: int = team.id, repo: str = "acme/shop"):
        name = f"comment-{next(comments)}"
        assert await store.record(team_id, Signal(repo, category, "github", name, "thumbs_up", "ann", useful))
        await ReviewFeedbackSignal.filter(source_comment=name).update(created_at=today - timedelta(days=days_ago))

    await signal(40, "security", False)  # before the window: counted in the starting point
    await signal(5, "security", True)
    await signal(5, "security", True)
    await signal(2, "style", False)
    await signal(2, "style", False, team_id=other.id)  # another team's, and another repository's: never counted
    await signal(1, "style", True, repo="acme/other")

    history = await precision_history(team.id, "acme/shop", days=10)
    assert len(history.days) == 10 and history.days[-1] == today.date()
    assert set(history.categories) == {"security", "style"}
    security, style = history.categories["security"], history.categories["style"]
    assert security[0] == precision_of(Tally(0, 1))  # the old signal carried into the window
    assert security[3] == precision_of(Tally(0, 1)) and security[4] == precision_of(Tally(2, 1))  # 5 days ago
    assert security[-1] == precision_of(Tally(2, 1))
    assert style[:7] == [None] * 7 and style[7] == precision_of(Tally(0, 1)) == style[-1]
