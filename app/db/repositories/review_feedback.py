"""Review feedback signals and category states. Every read and write is scoped to a team by the caller's
team id; a signal is stored once per source comment, kind and actor (an IDE vote is replaced: the last wins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from tortoise import Tortoise

from app.db.models import ReviewCategoryState

CATEGORY_MAX = 64
_INSERT = (
    "INSERT INTO review_feedback_signals (team_id, repository, category, source, source_comment, kind, actor, useful) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (team_id, source, source_comment, kind, actor) "
)
INSERT_SIGNAL = _INSERT + "DO NOTHING RETURNING id"
# An IDE vote can change: the last one wins, and counts as new only when it did change.
REPLACE_SIGNAL = (
    _INSERT + "DO UPDATE SET useful = EXCLUDED.useful, category = EXCLUDED.category, updated_at = now() "
    "WHERE review_feedback_signals.useful IS DISTINCT FROM EXCLUDED.useful RETURNING id"
)


@dataclass(frozen=True)
class Signal:
    repository: str
    category: str
    source: str  # github | gitlab | bitbucket | ide
    source_comment: str
    kind: str
    actor: str
    useful: bool


@dataclass(frozen=True)
class Tally:
    useful: int = 0
    not_useful: int = 0


async def record(team_id: int, signal: Signal, *, replace: bool = False) -> bool:
    """Store the signal; True when it is new (or, with `replace`, when its verdict changed)."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        REPLACE_SIGNAL if replace else INSERT_SIGNAL,
        [
            team_id,
            signal.repository[:300],
            signal.category[:CATEGORY_MAX],
            signal.source,
            signal.source_comment[:64],
            signal.kind,
            signal.actor[:200],
            signal.useful,
        ],
    )
    return bool(rows)


async def tallies(team_id: int, repository: str) -> dict[str, Tally]:
    """Useful and not-useful signals of one repository of the team, per category."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT category, count(*) FILTER (WHERE useful) AS useful, count(*) FILTER (WHERE NOT useful) AS not_useful "
        "FROM review_feedback_signals WHERE team_id = $1 AND repository = $2 GROUP BY category ORDER BY category",
        [team_id, repository],
    )
    return {row["category"]: Tally(int(row["useful"]), int(row["not_useful"])) for row in rows}


async def tallies_before(team_id: int, repository: str, day: date) -> dict[str, Tally]:
    """Signals of one repository per category recorded before `day` (UTC)."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT category, count(*) FILTER (WHERE useful) AS useful, count(*) FILTER (WHERE NOT useful) AS not_useful "
        "FROM review_feedback_signals WHERE team_id = $1 AND repository = $2 AND created_at < $3 GROUP BY category",
        [team_id, repository, datetime.combine(day, time(), UTC)],
    )
    return {row["category"]: Tally(row["useful"], row["not_useful"]) for row in rows}


async def daily_tallies(team_id: int, repository: str, since: date) -> list[tuple[date, str, Tally]]:
    """Signals of one repository per day (UTC) and category from `since` on, oldest first."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, category, count(*) FILTER (WHERE useful) AS useful, "
        "count(*) FILTER (WHERE NOT useful) AS not_useful FROM review_feedback_signals "
        "WHERE team_id = $1 AND repository = $2 AND created_at >= $3 GROUP BY 1, 2 ORDER BY 1, 2",
        [team_id, repository, datetime.combine(since, time(), UTC)],
    )
    return [(row["day"], row["category"], Tally(row["useful"], row["not_useful"])) for row in rows]


async def states(team_id: int, repository: str) -> dict[str, ReviewCategoryState]:
    rows = await ReviewCategoryState.filter(team_id=team_id, repository=repository)
    return {row.category: row for row in rows}


async def put_state(
    team_id: int,
    repository: str,
    category: str,
    *,
    demoted: bool,
    precision_floor: float,
    min_signals: int,
    demotion: str,
) -> None:
    await ReviewCategoryState.update_or_create(
        defaults={
            "demoted": demoted,
            "precision_floor": precision_floor,
            "min_signals": min_signals,
            "demotion": demotion,
        },
        team_id=team_id,
        repository=repository[:300],
        category=category[:CATEGORY_MAX],
    )
