"""The symbol graph of a known code base: exact definitions, callers and callees, resolution through
imports, aliases, re-exports and `self`, honest unresolved calls, incremental updates and expansion."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from app.db.models import Chunk, CodeReference, CodeSymbol
from app.db.repositories import code as code_store
from app.db.repositories.graph import FileGraphRows, ReferenceRow
from app.db.repositories.identity import get_or_create_team
from app.search.graph import queries
from tests.search.graph.conftest import index_shop


def resolved(answer: queries.GraphAnswer) -> set[tuple[str, str]]:
    return {(s.source, s.resolved.qualified) for s in answer.sites if s.resolved is not None}


def unresolved(answer: queries.GraphAnswer) -> set[tuple[str, str]]:
    return {(s.source, s.name) for s in answer.sites if s.resolved is None}


async def test_callers_are_resolved_through_imports_aliases_and_self(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id

    rate = await queries.callers(repo, "rate_for")
    assert [m.qualified for m in rate.lookup.matches] == ["shop.tax.rate_for"]
    # billing imports it by name, checkout through `from .tax import rate_for as vat`.
    assert resolved(rate) == {
        ("shop.billing.Invoice.total", "shop.tax.rate_for"),
        ("shop.checkout.checkout", "shop.tax.rate_for"),
    }
    assert {(s.path, s.line) for s in rate.sites} == {("shop/billing.py", 14), ("shop/checkout.py", 10)}

    # `import shop.payments as pay; pay.charge(...)` and `self.total()` inside the class.
    settle = await queries.callees(repo, "shop.billing.Invoice.settle")
    assert resolved(settle) == {
        ("shop.billing.Invoice.settle", "shop.payments.charge"),
        ("shop.billing.Invoice.settle", "shop.billing.Invoice.total"),
    }
    assert unresolved(settle) == set()

    # Calls through a value are kept by their text and marked unresolved, never guessed.
    charge = await queries.callees(repo, "charge")
    assert resolved(charge) == {
        ("shop.payments.charge", "shop.payments.log"),
        ("shop.payments.charge", "shop.payments.gateway"),
    }
    assert unresolved(charge) == {("shop.payments.charge", "gateway().send")}

    # `from shop import Invoice` is followed through the package's re-export to shop/billing.py.
    checkout = await queries.callees(repo, "checkout")
    assert resolved(checkout) == {
        ("shop.checkout.checkout", "shop.billing.Invoice"),
        ("shop.checkout.checkout", "shop.tax.rate_for"),
    }
    assert unresolved(checkout) == {
        ("shop.checkout.checkout", "invoice.add"),
        ("shop.checkout.checkout", "invoice.settle"),
        ("shop.checkout.checkout", "print"),
    }


async def test_bare_names_may_be_ambiguous_and_qualified_tails_pick_one(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id

    # Defined nowhere in the repository: the sites that name it, unresolved.
    printed = await queries.callers(repo, "print")
    assert unresolved(printed) == {("shop.payments.log", "print"), ("shop.checkout.checkout", "print")}
    assert (await queries.callers(repo, "os.print")).sites == []

    total = await queries.callers(repo, "total")
    assert total.lookup.ambiguous and total.sites == []
    assert {m.qualified for m in total.lookup.matches} == {
        "shop.billing.Invoice.total",
        "shop.report.total",
        "web.cart.Cart.total",
    }

    invoice_total = await queries.callers(repo, "Invoice.total")
    assert not invoice_total.lookup.ambiguous
    # `self.total()` in a subclass resolves through its base class to the inherited method.
    assert resolved(invoice_total) == {
        ("shop.billing.Invoice.settle", "shop.billing.Invoice.total"),
        ("shop.orders.ProForma.preview", "shop.billing.Invoice.total"),
    }
    uses = await queries.references(repo, "Invoice")
    assert {(s.kind, s.path) for s in uses.sites if s.resolved} >= {
        ("base", "shop/orders.py"),
        ("call", "shop/checkout.py"),
    }
    # A call the graph cannot attribute (`this.total()` is resolved to Cart; nothing else unresolved ends in total).
    report_total = await queries.callers(repo, "shop.report.total")
    assert resolved(report_total) == {("shop.report.summary", "shop.report.total")}

    defined = await queries.definitions(repo, "total")
    assert {(d.path, d.start_line, d.kind) for d in defined.definitions} == {
        ("shop/billing.py", 13, "method"),
        ("shop/report.py", 1, "function"),
        ("web/cart.ts", 4, "method"),
    }


async def test_typescript_calls_resolve_through_imports_and_this(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id
    label = await queries.callees(repo, "Cart.label")
    assert resolved(label) == {
        ("web.cart.Cart.label", "web.format.formatPrice"),
        ("web.cart.Cart.label", "web.cart.Cart.total"),
    }
    uses = await queries.references(repo, "formatPrice")
    assert {(s.kind, s.path, s.line) for s in uses.sites} == {("import", "web/cart.ts", 1), ("call", "web/cart.ts", 5)}


async def test_an_edit_replaces_a_files_symbols_and_a_delete_removes_them(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id
    before = await CodeSymbol.filter(repository_id=repo).count()

    checkout = shop_tree / "shop/checkout.py"
    checkout.write_text(checkout.read_text().replace("    print(vat(customer))\n", ""))
    await index_shop(shop_tree, graph_embedder, team_id=team.id)
    assert resolved(await queries.callers(repo, "rate_for")) == {("shop.billing.Invoice.total", "shop.tax.rate_for")}
    assert await CodeSymbol.filter(repository_id=repo).count() == before  # replaced, not duplicated

    (shop_tree / "shop/tax.py").unlink()
    await index_shop(shop_tree, graph_embedder, team_id=team.id)
    assert await CodeSymbol.filter(repository_id=repo, path="shop/tax.py").count() == 0
    assert (await queries.definitions(repo, "rate_for")).definitions == []
    # billing's call stays, now honestly unresolved: its target is defined nowhere.
    orphaned = await queries.callers(repo, "rate_for")
    assert orphaned.lookup.matches == [] and unresolved(orphaned) == {("shop.billing.Invoice.total", "rate_for")}
    total = await queries.callees(repo, "Invoice.total")
    assert ("shop.billing.Invoice.total", "rate_for") in unresolved(total)
    assert all(r.file_id is not None for r in await CodeReference.filter(repository_id=repo))


async def test_expand_returns_the_chunks_of_callers_and_callees(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id
    tax = await Chunk.filter(repository_id=repo, path="shop/tax.py").first()
    neighbours = await queries.expand([tax.id], team_id=team.id, depth=1)
    assert {(n.path, n.relation, n.via) for n in neighbours} >= {
        ("shop/billing.py", "caller", "shop.billing.Invoice.total"),
        ("shop/checkout.py", "caller", "shop.checkout.checkout"),
    }
    assert tax.id not in {n.chunk_id for n in neighbours}
    assert len(await queries.expand([tax.id], team_id=team.id, depth=2, limit=1)) == 1
    other = await get_or_create_team("other")
    assert await queries.expand([tax.id], team_id=other.id) == []


async def test_a_file_and_its_graph_are_written_in_one_transaction(db, shop_tree, graph_embedder):
    team = await get_or_create_team("core")
    repo = (await index_shop(shop_tree, graph_embedder, team_id=team.id)).repository_id
    before = await Chunk.filter(repository_id=repo, path="shop/tax.py").values_list("text", flat=True)
    broken = FileGraphRows("python", [], [ReferenceRow("call", "f", "f", None, "shop.tax", 0)])  # line 0: refused
    with pytest.raises(IntegrityError):
        await code_store.replace_file(
            team_id=team.id,
            repo_id=repo,
            path="shop/tax.py",
            content_hash="0" * 64,
            language="python",
            size=1,
            chunks=[],
            graph=broken,
        )
    # Nothing of the failed write is left: the file keeps its chunks and its symbols.
    assert await Chunk.filter(repository_id=repo, path="shop/tax.py").values_list("text", flat=True) == before
    assert [m.qualified for m in (await queries.definitions(repo, "rate_for")).definitions] == ["shop.tax.rate_for"]
