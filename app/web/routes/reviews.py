"""Pull-request reviews per repository: the runs, one run's findings, what it posted and what it dropped, the
audit trail, and the measured precision per category as a chart (app/review services, as /v1/reviews)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.validation import parse_query
from app.db.wire_types import MAX_WIRE_ID, WireStr
from app.review.pr import records
from app.review.precision import PrecisionHistory, precision_history, precision_report
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_reviews", url_prefix="/app")
PAGE_SIZE = 25
HISTORY_DAYS = 90


class ReviewsListQuery(BaseModel):
    repo: WireStr | None = Field(default=None, max_length=300)
    before_id: int | None = Field(default=None, ge=1, le=MAX_WIRE_ID)


class AuditListQuery(BaseModel):
    action: WireStr | None = Field(default=None, max_length=40)
    before_id: int | None = Field(default=None, ge=1, le=MAX_WIRE_ID)


def precision_chart(categories: list[object]) -> dict[str, object]:
    """Bars of precision per category, with the floor below which a category is demoted as a second series."""
    return {
        "labels": [c.category for c in categories],  # type: ignore[attr-defined]
        "max": 1,
        "series": [
            {"label": "precision", "values": [round(c.precision, 3) for c in categories]},  # type: ignore[attr-defined]
            {"label": "floor", "line": True, "values": [c.precision_floor for c in categories]},  # type: ignore[attr-defined]
        ],
    }


def history_chart(history: PrecisionHistory) -> dict[str, object]:
    """A line per category: its precision at the end of each day, counting every signal up to that day."""
    return {
        "days": [day.isoformat() for day in history.days],
        "max": 1,
        "series": [{"label": name, "values": values} for name, values in history.categories.items()],
    }


@bp.get("/reviews")
@page()
async def reviews(request: Request) -> HTTPResponse:
    query = parse_query(request, ReviewsListQuery)
    team_id = request.ctx.web.principal.team_id
    runs, next_before = await records.team_runs(team_id, limit=PAGE_SIZE, before_id=query.before_id, repo=query.repo)
    categories = []
    history = PrecisionHistory([], {})
    if query.repo:
        categories = await precision_report(team_id, query.repo, request.app.ctx.settings.review)
        history = await precision_history(team_id, query.repo, days=HISTORY_DAYS)
    return render(
        request,
        "reviews.html",
        title="Reviews",
        runs=runs,
        next_before=next_before,
        repo=query.repo or "",
        categories=categories,
        chart=precision_chart(categories),
        history=history_chart(history),
        history_days=HISTORY_DAYS,
    )


@bp.get("/reviews/audit")
@page()
async def audit(request: Request) -> HTTPResponse:
    query = parse_query(request, AuditListQuery)
    events, next_before = await records.team_audit(
        request.ctx.web.principal.team_id, limit=PAGE_SIZE, before_id=query.before_id, action=query.action
    )
    return render(
        request, "audit.html", title="Audit trail", events=events, next_before=next_before, action=query.action or ""
    )


@bp.get("/reviews/<review_id>")
@page()
async def review(request: Request, review_id: str) -> HTTPResponse:
    run = await records.team_run(request.ctx.web.principal.team_id, review_id)
    return render(request, "review.html", title=f"Review of {run['repo']}#{run['number']}", run=run)
