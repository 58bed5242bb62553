"""Usage and cost of the team's chats per model and per user, over the last days, with a chart per day."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.validation import parse_query
from app.db.repositories import usage as store
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_usage", url_prefix="/app")


class UsageQuery(BaseModel):
    days: int = Field(default=30, ge=1, le=365)


def totals(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows summed by `key`, the most expensive first."""
    summed: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = summed.setdefault(
            row[key], {"name": row[key], "steps": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        )
        for field in ("steps", "input_tokens", "output_tokens", "cost_usd"):
            entry[field] += row[field]
    return sorted(summed.values(), key=lambda e: (-e["cost_usd"], -e["steps"], e["name"]))


def daily_chart(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    """{days, series: [{label, values}]} for the chart script: one series per `key`, a value per day."""
    days = sorted({row["day"] for row in rows})
    by: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        by[row[key]][row["day"]] = by[row[key]].get(row["day"], 0) + row[value]
    return {
        "days": days,
        "series": [{"label": name, "values": [by[name].get(day, 0) for day in days]} for name in sorted(by)],
    }


@bp.get("/usage")
@page()
async def usage(request: Request) -> HTTPResponse:
    query = parse_query(request, UsageQuery)
    rows = await store.team_usage(request.ctx.web.principal.team_id, days=query.days)
    return render(
        request,
        "usage.html",
        title="Usage",
        days=query.days,
        models=totals(rows, "model"),
        users=totals(rows, "user_email"),
        cost_chart=daily_chart(rows, "model", "cost_usd"),
        token_chart=daily_chart(rows, "user_email", "output_tokens"),
    )
