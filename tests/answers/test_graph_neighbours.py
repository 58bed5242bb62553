"""Graph expansion of an answer's evidence: the caller of the retrieved function joins the sources when
`max_results` leaves room — marked as a caller, never displacing a retrieved passage — and not at all when off."""

from __future__ import annotations

import pytest

from app.db.repositories.identity import team_named
from tests.answers.conftest import ask
from tests.api.scripted_models import scripted_settings
from tests.conftest import start_service, stop_service
from tests.search.conftest import write_tree

FILES = {
    "billing/rates.py": (
        "PRICES = {'free': 0, 'team': 1900, 'enterprise': 9900}\n\n\n"
        "def rate_for(plan):\n"
        '    """The monthly rate of a subscription plan, in cents."""\n'
        "    return PRICES[plan]\n"
    ),
    "landing/banner.py": (
        "from billing.rates import rate_for\n\n\n"
        "def draw_banner(width):\n"
        '    """Draw the ASCII art header of the landing page."""\n'
        "    border = '*' * width\n"
        "    return border + ' from ' + str(rate_for('team')) + ' ' + border\n"
    ),
}


@pytest.fixture(params=[2, 0], ids=["expanded", "off"])
async def running(request, database_url, redis_url, tmp_path):
    settings, chat, _ = scripted_settings(
        database_url,
        redis_url,
        tmp_path,
        **{"answers.rerank": False, "answers.relevance_floor": 0.4, "answers.graph_neighbours": request.param},
    )
    service = await start_service(settings)
    service.chat, service.token, service.neighbours = chat, await service.issue_token(team="core"), request.param
    write_tree(tmp_path / "pricing", FILES)
    team = await team_named("core")
    await service.app.ctx.search.index_path(tmp_path / "pricing", team_id=team.id, name="pricing")
    yield service
    await stop_service(service)


async def test_the_caller_of_the_retrieved_function_fills_free_places_and_says_what_it_is(running):
    running.chat.play({"text": "rate_for looks the plan up in PRICES [1]; the banner shows it [2]."})
    body = {"query": "What is the monthly rate of a subscription plan in cents?", "max_results": 4}
    data = (await ask(running, body)).json()["data"]
    assert data["answered"] is True, data
    paths = [(s["path"], s["related"]) for s in data["sources"]]
    assert paths[0] == ("billing/rates.py", None), "the retrieved passage keeps its place"
    callers = [s for s in data["sources"] if s["related"]]
    if running.neighbours:
        assert [(s["path"], s["related"]) for s in callers] == [
            ("landing/banner.py", "caller of the retrieved code: landing.banner.draw_banner")
        ]
        assert "draw_banner" in str(running.chat.calls()[-1]) and data["citations"]["cited"] == [1, 2]
    else:
        assert callers == [] and all(s["path"] != "landing/banner.py" for s in data["sources"])
