"""A small multi-language working copy (also as a bare git repository to serve), and an embedder that
counts what it embeds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.search.embeddings import Embedder, local_embedder

FILES = {
    "src/billing/invoice.py": '''
class Invoice:
    """An invoice with line items."""

    def __init__(self, customer):
        self.customer = customer
        self.items = []

    def add_line_item(self, description, amount):
        self.items.append((description, amount))

    def total_amount(self):
        """Sum of the amounts of every line item, including tax."""
        subtotal = sum(amount for _, amount in self.items)
        return round(subtotal * 1.2, 2)
''',
    "src/net/http_client.py": '''
import socket


def open_connection(host, port, timeout=5.0):
    """Open a TCP connection to a remote server and return the socket."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def retry_with_backoff(call, attempts=5):
    delay = 0.1
    for attempt in range(attempts):
        try:
            return call()
        except OSError:
            delay *= 2
    raise RuntimeError("gave up")
''',
    "web/src/cart.ts": """
export interface CartItem { sku: string; quantity: number; price: number }

export function cartTotal(items: CartItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.price, 0);
}

export const emptyCart = (): CartItem[] => [];
""",
    "server/users.go": """
package server

type UserStore struct { users map[string]string }

func (s *UserStore) Lookup(email string) (string, bool) {
    name, ok := s.users[email]
    return name, ok
}
""",
    "docs/README.md": "# Billing service\n\nComputes invoices and talks to the payment gateway.\n",
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))


def bare_repository(parent: Path) -> tuple[Path, dict[str, str], Path]:
    """FILES committed in `parent/src-repo` and cloned bare as `parent/served/shop.git`: (working copy,
    the git environment to commit with, the directory to serve)."""
    source = parent / "src-repo"
    write_tree(source, FILES)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "PATH": "/usr/bin:/bin",
        "HOME": str(parent),
    }
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "."], ["git", "commit", "-q", "-m", "init"]):
        subprocess.run(command, cwd=source, check=True, env=env)
    served = parent / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(served / "shop.git")], check=True, env=env)
    return source, env, served


@pytest.fixture
def working_copy(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    write_tree(root, FILES)
    return root


class CountingEmbedder(Embedder):
    """The real local model, counting the texts it is asked to embed (and optionally renamed, to stand for
    a different model)."""

    def __init__(self, model: str | None = None) -> None:
        self.inner = local_embedder()
        self.model = model or self.inner.model
        self.dimension = self.inner.dimension
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture
def counting_embedder() -> CountingEmbedder:
    return CountingEmbedder()
