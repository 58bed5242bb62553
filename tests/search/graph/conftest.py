"""A small code base whose call graph is known exactly, indexed by the real indexer."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.search.indexer import IndexReport, index_repository
from tests.search.conftest import CountingEmbedder, write_tree

SHOP = {
    "shop/__init__.py": """
from .billing import Invoice
from .payments import charge
""",
    "shop/tax.py": """
def rate_for(customer):
    return 0.2 if customer.eu else 0.0
""",
    "shop/payments.py": """
def log(amount):
    print(amount)


def gateway():
    return None


def charge(customer, amount):
    log(amount)
    return gateway().send(amount)
""",
    "shop/billing.py": """
import shop.payments as pay
from shop.tax import rate_for


class Invoice:
    def __init__(self, customer):
        self.customer = customer
        self.items = []

    def add(self, amount):
        self.items.append(amount)

    def total(self):
        return round(sum(self.items) * (1 + rate_for(self.customer)), 2)

    def settle(self):
        return pay.charge(self.customer, self.total())
""",
    "shop/checkout.py": """
from shop import Invoice

from .tax import rate_for as vat


def checkout(customer, amounts):
    invoice = Invoice(customer)
    for amount in amounts:
        invoice.add(amount)
    print(vat(customer))
    return invoice.settle()
""",
    "shop/orders.py": """
from shop.billing import Invoice


class ProForma(Invoice):
    def preview(self):
        return self.total()
""",
    "shop/report.py": """
def total(rows):
    return sum(rows)


def summary(rows):
    return {"total": total(rows)}
""",
    "web/cart.ts": """
import { formatPrice } from './format';

export class Cart {
  total(): number { return this.items.reduce((a, b) => a + b, 0); }
  label(): string { return formatPrice(this.total()); }
}
""",
    "web/format.ts": """
export function formatPrice(value: number): string {
  return value.toFixed(2);
}
""",
}


@pytest.fixture(scope="session")
def graph_embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def shop_tree(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    write_tree(root, SHOP)
    return root


async def index_shop(root: Path, embedder: CountingEmbedder, *, team_id: int, name: str = "shop") -> IndexReport:
    return await index_repository(
        root,
        team_id=team_id,
        name=name,
        source=str(root),
        source_kind="local",
        embedder=embedder,
        max_chunk_chars=1800,
        max_files=1000,
        max_bytes=10**8,
    )
