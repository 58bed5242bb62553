"""The graph over REST and as the agents' `code_graph` tool: exact answers, pagination, ambiguity with
candidates, bad input refused, and another team's repository answering like an unknown one."""

from __future__ import annotations

from app.db.repositories.identity import get_or_create_team
from app.tools.server_tools import ToolContext
from tests.search.graph.conftest import index_shop


async def get(service, question, token, **params):
    return await service.request("GET", f"/v1/graph/{question}", token=token, client_headers=False, params=params)


async def test_callers_callees_and_definitions_over_rest(service, shop_tree, graph_embedder):
    token = await service.issue_token(team="core")
    team = await get_or_create_team("core")
    await index_shop(shop_tree, graph_embedder, team_id=team.id)

    response = await get(service, "callers", token, repository="shop", symbol="shop.tax.rate_for")
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert (body["ambiguous"], body["total"], body["next_offset"]) == (False, 2, None)
    assert [c["qualified"] for c in body["candidates"]] == ["shop.tax.rate_for"]
    assert {(i["source"], i["path"], i["line"], i["resolved"]) for i in body["items"]} == {
        ("shop.billing.Invoice.total", "shop/billing.py", 14, True),
        ("shop.checkout.checkout", "shop/checkout.py", 10, True),
    }
    assert all(i["definition"]["path"] == "shop/tax.py" for i in body["items"])

    first = (await get(service, "callees", token, repository="shop", symbol="checkout", limit=2)).json()["data"]
    rest = (await get(service, "callees", token, repository="shop", symbol="checkout", offset=2)).json()["data"]
    assert (first["total"], first["next_offset"], len(first["items"]), len(rest["items"])) == (5, 2, 2, 3)
    names = [i["name"] for i in first["items"] + rest["items"]]
    assert names == ["Invoice", "invoice.add", "print", "vat", "invoice.settle"]  # source order
    assert {i["name"]: i["resolved"] for i in first["items"] + rest["items"]}["invoice.add"] is False

    ambiguous = (await get(service, "callers", token, repository="shop", symbol="total")).json()["data"]
    assert ambiguous["ambiguous"] is True and ambiguous["items"] == []
    assert {c["qualified"] for c in ambiguous["candidates"]} == {
        "shop.billing.Invoice.total",
        "shop.report.total",
        "web.cart.Cart.total",
    }
    defined = (await get(service, "definitions", token, repository="shop", symbol="total")).json()["data"]
    assert defined["ambiguous"] is False and defined["total"] == 3


async def test_another_teams_repository_answers_like_an_unknown_one(service, shop_tree, graph_embedder):
    owner = await get_or_create_team("core")
    await index_shop(shop_tree, graph_embedder, team_id=owner.id)
    outsider = await service.issue_token(email="eve@example.com", team="rivals")

    foreign = await get(service, "callers", outsider, repository="shop", symbol="rate_for")
    unknown = await get(service, "callers", outsider, repository="nowhere", symbol="rate_for")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["message"] == unknown.json()["error"]["message"].replace("nowhere", "shop")

    tool = service.app.ctx.server_tools.tools["code_graph"]
    rival = await get_or_create_team("rivals")
    arguments = tool.model(question="callers", symbol="rate_for", repository="shop")
    assert "No indexed repository" in await tool.run(arguments, ToolContext(0, rival.id, 0, None))


async def test_bad_queries_are_refused(service):
    token = await service.issue_token()
    for params in ({"repository": "shop"}, {"symbol": "x"}, {"repository": "shop", "symbol": "x", "limit": 0}):
        response = await get(service, "callers", token, **params)
        assert response.status_code == 422, params
    assert (await get(service, "callers", None, repository="shop", symbol="x")).status_code in (400, 401)


async def test_the_agents_tool_answers_what_calls_x_from_the_graph(service, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    await index_shop(shop_tree, graph_embedder, team_id=team.id)
    tool = service.app.ctx.server_tools.tools["code_graph"]
    context = ToolContext(0, team.id, 0, None)

    text = await tool.run(tool.model(question="callers", symbol="rate_for", repository="shop"), context)
    assert text.splitlines() == [
        "callers of shop.tax.rate_for: 2",
        "- shop/billing.py:14 in shop.billing.Invoice.total (call rate_for)",
        "- shop/checkout.py:10 in shop.checkout.checkout (call vat)",
    ]
    ambiguous = await tool.run(tool.model(question="callees", symbol="total", repository="shop"), context)
    assert "ambiguous" in ambiguous and "- shop.report.total (function, shop/report.py:1)" in ambiguous
    callees = await tool.run(tool.model(question="callees", symbol="Invoice.settle", repository="shop"), context)
    assert "- shop/billing.py:17 pay.charge -> shop.payments.charge (shop/payments.py:9)" in callees
