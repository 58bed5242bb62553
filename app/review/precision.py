"""Review precision per repository and category, from feedback on our comments, and the demotion it leads to.

Precision is useful / (useful + not useful) with a prior of one vote each way, so two votes never swing it to 0
or 1. A category with at least `min_signals` signals below the floor is demoted: its confidence threshold is
raised by a step (`raise_threshold`), or its findings are listed only in the summary comment (`summary_only`).
A change of state is recorded once, and audited, when a review applies the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from app.db.repositories import audit
from app.db.repositories import review_feedback as store
from app.db.repositories.review_feedback import Tally
from app.review.rules import RepositoryRules
from app.runtime.settings import ReviewSettings

PRIOR_USEFUL = 1.0
PRIOR_NOT_USEFUL = 1.0
Demotion = Literal["raise_threshold", "summary_only"]


@dataclass(frozen=True)
class PrecisionPolicy:
    floor: float
    min_signals: int
    demotion: Demotion
    step: float
    base_threshold: float  # the review's own bar, which a demoted category's is raised above

    @classmethod
    def of(cls, review: ReviewSettings, rules: RepositoryRules | None = None) -> PrecisionPolicy:
        """The server's policy with the repository's `.adjutant.toml` overrides."""
        rules = rules or RepositoryRules()
        return cls(
            floor=rules.precision_floor if rules.precision_floor is not None else review.precision_floor,
            min_signals=rules.min_signals if rules.min_signals is not None else review.min_signals,
            demotion=rules.demotion or review.demotion,
            step=review.demotion_step,
            base_threshold=max(review.confidence_threshold, rules.confidence_threshold or 0.0),
        )

    @property
    def raised_threshold(self) -> float:
        return min(1.0, round(self.base_threshold + self.step, 4))


@dataclass(frozen=True)
class CategoryPrecision:
    category: str
    useful: int
    not_useful: int
    precision: float
    demoted: bool

    @property
    def signals(self) -> int:
        return self.useful + self.not_useful


@dataclass(frozen=True)
class Demotions:
    """What the validation step does with a repository's demoted categories."""

    policy: PrecisionPolicy
    categories: list[CategoryPrecision] = field(default_factory=list)

    def demoted(self) -> list[str]:
        return [c.category for c in self.categories if c.demoted]

    def thresholds(self) -> dict[str, float]:
        """Raised confidence thresholds by category (empty in summary_only mode)."""
        if self.policy.demotion != "raise_threshold":
            return {}
        return dict.fromkeys(self.demoted(), self.policy.raised_threshold)

    def summary_only(self) -> frozenset[str]:
        return frozenset(self.demoted()) if self.policy.demotion == "summary_only" else frozenset()


def precision_of(tally: Tally) -> float:
    total = tally.useful + tally.not_useful + PRIOR_USEFUL + PRIOR_NOT_USEFUL
    return round((tally.useful + PRIOR_USEFUL) / total, 4)


def assess(tallies: dict[str, Tally], policy: PrecisionPolicy) -> list[CategoryPrecision]:
    found = []
    for category, tally in sorted(tallies.items()):
        value = precision_of(tally)
        demoted = tally.useful + tally.not_useful >= policy.min_signals and value < policy.floor
        found.append(CategoryPrecision(category, tally.useful, tally.not_useful, value, demoted))
    return found


async def apply_policy(team_id: int, repository: str, policy: PrecisionPolicy, *, record: bool = True) -> Demotions:
    """The repository's demotions under `policy`; with `record`, a category whose state changed is stored and
    audited (a dry run only reads)."""
    assessed = assess(await store.tallies(team_id, repository), policy)
    if not record:
        return Demotions(policy, assessed)
    known = await store.states(team_id, repository)
    for entry in assessed:
        before = known.get(entry.category)
        was_demoted = bool(before and before.demoted)
        same_policy = before is not None and (before.precision_floor, before.min_signals, before.demotion) == (
            policy.floor,
            policy.min_signals,
            policy.demotion,
        )
        if before is not None and same_policy and was_demoted == entry.demoted:
            continue
        await store.put_state(
            team_id,
            repository,
            entry.category,
            demoted=entry.demoted,
            precision_floor=policy.floor,
            min_signals=policy.min_signals,
            demotion=policy.demotion,
        )
        if was_demoted != entry.demoted:
            await _audit(team_id, repository, entry, policy)
    return Demotions(policy, assessed)


async def _audit(team_id: int, repository: str, entry: CategoryPrecision, policy: PrecisionPolicy) -> None:
    measured = f"precision {entry.precision:.2f} over {entry.signals} signals"
    if entry.demoted:
        effect = (
            f"its confidence threshold is raised to {policy.raised_threshold:.2f}"
            if policy.demotion == "raise_threshold"
            else "its findings are listed in the summary only"
        )
        action, reason = "category.demoted", f"{measured} is below the floor {policy.floor:.2f}: {effect}"
    else:
        action, reason = "category.restored", f"{measured} is at or above the floor {policy.floor:.2f}"
    await audit.record(
        team_id,
        actor_type="bot",
        actor_name="adjutant review precision",
        action=action,
        target_type="repository_category",
        target=f"{repository}:{entry.category}",
        reason=reason,
        details={
            "repository": repository,
            "category": entry.category,
            "useful": entry.useful,
            "not_useful": entry.not_useful,
            "precision": entry.precision,
            "demotion": policy.demotion,
        },
    )


@dataclass(frozen=True)
class CategoryReport:
    """A category as the precision API and CLI show it: counts, precision, and what demotion does to it now."""

    category: str
    useful: int
    not_useful: int
    precision: float
    demoted: bool
    threshold: float | None  # the raised confidence threshold while demoted in raise_threshold mode
    mode: Demotion | None  # what demotion does while demoted
    precision_floor: float
    min_signals: int


async def precision_report(team_id: int, repository: str, review: ReviewSettings) -> list[CategoryReport]:
    """The team's categories of one repository, under the policy the last review applied (the repository's
    overrides included), else the server's."""
    server = PrecisionPolicy.of(review)
    known = await store.states(team_id, repository)
    found = []
    for category, tally in sorted((await store.tallies(team_id, repository)).items()):
        state = known.get(category)
        policy = server
        if state is not None:
            policy = PrecisionPolicy(
                state.precision_floor, state.min_signals, state.demotion, server.step, server.base_threshold
            )  # type: ignore[arg-type]
        (entry,) = assess({category: tally}, policy)
        raised = entry.demoted and policy.demotion == "raise_threshold"
        found.append(
            CategoryReport(
                category=category,
                useful=entry.useful,
                not_useful=entry.not_useful,
                precision=entry.precision,
                demoted=entry.demoted,
                threshold=policy.raised_threshold if raised else None,
                mode=policy.demotion if entry.demoted else None,
                precision_floor=policy.floor,
                min_signals=policy.min_signals,
            )
        )
    return found


@dataclass(frozen=True)
class PrecisionHistory:
    """Precision per category at the end of each day, counting every signal up to that day (the prior included);
    None before a category's first signal."""

    days: list[date]
    categories: dict[str, list[float | None]]


async def precision_history(team_id: int, repository: str, *, days: int = 90) -> PrecisionHistory:
    """How each category's measured precision moved over the last `days` days, from the signals' own dates."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    before = await store.tallies_before(team_id, repository, first)
    daily = await store.daily_tallies(team_id, repository, first)
    running = {category: Tally(t.useful, t.not_useful) for category, t in before.items()}
    by_day: dict[date, list[tuple[str, Tally]]] = {}
    for day, category, tally in daily:
        by_day.setdefault(day, []).append((category, tally))
    names = sorted({*running, *(category for _, category, _ in daily)})
    series: dict[str, list[float | None]] = {name: [] for name in names}
    span = [first + timedelta(days=offset) for offset in range(days)]
    for day in span:
        for category, tally in by_day.get(day, []):
            seen = running.get(category, Tally())
            running[category] = Tally(seen.useful + tally.useful, seen.not_useful + tally.not_useful)
        for name in names:
            series[name].append(precision_of(running[name]) if name in running else None)
    return PrecisionHistory(span, series)
