"""`adjutant graph ...` against an index built by `adjutant index`, scoped to the team asked for."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli.main import cli


def test_graph_commands_answer_from_the_index_of_the_team(database_url, redis_url, monkeypatch, shop_tree):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    assert run("index", str(shop_tree), "--name", "shop", "--team", "alpha").exit_code == 0

    callers = run("graph", "callers", "rate_for", "--repo", "shop", "--team", "alpha", "--json")
    assert callers.exit_code == 0, callers.stderr
    body = json.loads(callers.stdout)
    assert {(i["source"], i["line"]) for i in body["items"]} == {
        ("shop.billing.Invoice.total", 14),
        ("shop.checkout.checkout", 10),
    }
    text = run("graph", "callees", "Invoice.settle", "--repo", "shop", "--team", "alpha")
    assert "pay.charge -> shop.payments.charge (shop/payments.py:9)" in text.stdout
    ambiguous = run("graph", "callers", "total", "--repo", "shop", "--team", "alpha")
    assert "ambiguous" in ambiguous.stdout and "shop.report.total" in ambiguous.stdout

    run("index", str(shop_tree / "web"), "--name", "web", "--team", "beta")
    foreign = run("graph", "callers", "rate_for", "--repo", "shop", "--team", "beta")
    assert foreign.exit_code == 2 and "no repository named 'shop'" in foreign.stderr
