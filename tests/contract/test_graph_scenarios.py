""" "What calls X" in a chat, answered from the symbol graph: `adjutant index` on the deployment's database,
then an agent calling the `code_graph` server tool inside the step (no client round trip)."""

from __future__ import annotations

import json

from tests.contract.test_search_scenarios import cli
from tests.search.conftest import write_tree
from tests.search.graph.conftest import SHOP


async def test_an_agent_answers_what_calls_x_from_the_graph(deployment, tmp_path):
    write_tree(tmp_path / "shop", SHOP)
    indexed = await cli(deployment, "index", str(tmp_path / "shop"), "--name", "shop", "--team", "core")
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr

    deployment.script(
        {
            "tool_calls": [
                {"name": "code_graph", "input": {"question": "callers", "symbol": "rate_for", "repository": "shop"}}
            ]
        },
        {"text": "Invoice.total and checkout call rate_for."},
    )
    socket = await deployment.client().socket()
    turn = await socket.ask({"query": "what calls rate_for?"})
    assert turn.compact() == ["SS", "SI", "RM", "T", "TC", "QC", "SECC"], "the graph tool runs on the server"
    calls = deployment.model_calls()
    assert "code_graph" in calls[0]["tools"]
    result = next(m for m in reversed(calls[-1]["messages"]) if m["role"] == "tool")["parts"][0]
    assert not result["is_error"]
    assert json.loads(result["content"][0]["text"])["result"].splitlines() == [
        "callers of shop.tax.rate_for: 2",
        "- shop/billing.py:14 in shop.billing.Invoice.total (call rate_for)",
        "- shop/checkout.py:10 in shop.checkout.checkout (call vat)",
    ]
    await socket.close()
