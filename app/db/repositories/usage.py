"""Model usage of a team from its chat steps: tokens and cost by day, model and user."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise


async def team_usage(team_id: int, *, days: int) -> list[dict[str, Any]]:
    """One row per (day, model, user) over the last `days` days: steps, input and output tokens, cost in USD."""
    return await Tortoise.get_connection("default").execute_query_dict(
        "SELECT to_char(date_trunc('day', st.started_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, "
        "coalesce(st.model, '(none)') AS model, u.email AS user_email, count(*)::int AS steps, "
        "coalesce(sum((st.usage->>'input_tokens')::bigint), 0)::bigint AS input_tokens, "
        "coalesce(sum((st.usage->>'output_tokens')::bigint), 0)::bigint AS output_tokens, "
        "coalesce(sum(st.cost_usd), 0)::float8 AS cost_usd "
        "FROM steps st JOIN sessions s ON s.id = st.session_id JOIN users u ON u.id = s.user_id "
        "WHERE st.team_id = $1 AND st.started_at >= now() - make_interval(days => $2) "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        [team_id, days],
    )
