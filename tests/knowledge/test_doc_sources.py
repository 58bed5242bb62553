"""Documentation and team Q&A sources: a docs folder (Markdown and reStructuredText), a Markdown FAQ (headings as
questions), URLs fetched once through the address policy with size limits, and a Confluence space."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.integrations.addresses import AllowList
from app.knowledge.confluence_space import space_items
from app.knowledge.folders import docs_items, faq_entries, faq_items, rst_to_markdown
from app.knowledge.web_pages import PageFetcher
from tests.fakes.confluence_server import API_TOKEN, EMAIL, FakeConfluence
from tests.integrations.conftest import connection
from tests.knowledge.conftest import engine, ingest, make_source

RST = """Install guide
=============

Requirements
------------

You need Python 3.11.

.. code-block:: bash

    pip install adjutant

Then run it::

    adjutant serve
"""

FAQ = """# Frequently asked questions

## How do I reset my API token?

Run `adjutant token rotate`; the old token stays valid for ten minutes.

## Why is my index stale?

```bash
# not a heading inside code
adjutant index . --name app
```

Indexing runs when you push.

## Empty question
"""


async def collect(iterator) -> list:
    return [item async for item in iterator]


def test_rst_titles_and_code_become_markdown():
    markdown = rst_to_markdown(RST)
    assert markdown.startswith("# Install guide")
    assert "## Requirements" in markdown
    assert "```bash\npip install adjutant\n```" in markdown
    assert "Then run it:\n```\nadjutant serve\n```" in markdown


def test_faq_headings_are_questions_and_code_comments_are_not():
    entries = faq_entries(FAQ)
    assert [q for q, _ in entries] == ["How do I reset my API token?", "Why is my index stale?"]
    assert "# not a heading inside code" in entries[1][1] and "Indexing runs when you push." in entries[1][1]


async def test_a_docs_folder_imports_pages_with_links_and_skips_hidden_and_large_files(tmp_path: Path):
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "install.rst").write_text(RST)
    (tmp_path / "index.md").write_text("# Welcome\n\nStart here.")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.md").write_text("# no")
    (tmp_path / "huge.md").write_text("# big\n\n" + "x" * 5000)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    items = await collect(docs_items(tmp_path, link_base="https://git.example/blob/main/docs", max_file_bytes=4096))
    assert [i.external_id for i in items] == ["guide/install.rst", "index.md"]
    assert items[0].title == "Install guide" and items[0].url == "https://git.example/blob/main/docs/guide/install.rst"


async def test_faq_answers_are_searchable_qa_with_anchors(db, counting_embedder, tmp_path: Path):
    (tmp_path / "accounts.md").write_text(FAQ)
    items = await collect(faq_items(tmp_path, link_base="https://wiki.example/faq", max_file_bytes=100_000))
    assert [i.url for i in items] == [
        "https://wiki.example/faq/accounts.md#how-do-i-reset-my-api-token",
        "https://wiki.example/faq/accounts.md#why-is-my-index-stale",
    ]
    source = await make_source("core", "faq", kind="faq")
    await ingest(source, items, counting_embedder)
    hits = await engine(counting_embedder).search(source.team_id, "rotate my token", kinds=["qa"])
    assert hits[0].qa["question"] == "How do I reset my API token?" and hits[0].attribution is None


class _Site:
    """A tiny web site: HTML pages, a redirect, a redirect to a private address, a large page, a binary."""

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hosts.append(self.headers.get("Host"))
                routes = {
                    "/guide": (
                        200,
                        "text/html",
                        b"<html><head><title>Guide</title><script>var x=1</script></head>"
                        b"<body><nav>menu</nav><h1>Guide</h1><p>Tokens expire after 30 days.</p></body></html>",
                    ),
                    "/big": (200, "text/html", b"<p>" + b"y" * 50_000 + b"</p>"),
                    "/logo": (200, "image/png", b"\x89PNG"),
                }
                if self.path == "/moved":
                    self.send_response(301)
                    self.send_header("Location", "/guide")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/metadata":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.hosts: list[str | None] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    running = _Site()
    yield running
    running.stop()


async def test_urls_are_fetched_once_as_text_within_the_policy_and_limits(site):
    fetcher = PageFetcher(AllowList.parse(["127.0.0.1"]), timeout_s=5, max_bytes=10_000)
    urls = [
        f"{site.url}/guide",
        f"{site.url}/moved",
        f"{site.url}/big",
        f"{site.url}/logo",
        f"{site.url}/metadata",
        f"{site.url}/gone",
        f"{site.url}/guide",
    ]
    items = await collect(fetcher.items(urls))
    assert [i.external_id for i in items] == [f"{site.url}/guide", f"{site.url}/moved"]
    guide = items[0]
    assert guide.title == "Guide" and "Tokens expire after 30 days." in guide.text
    assert "menu" not in guide.text and "var x" not in guide.text
    assert items[1].url == f"{site.url}/guide"  # the redirect's target is the page's link
    errors = {f["url"].rsplit("/", 1)[1]: f["error"] for f in fetcher.failures}
    assert "larger than 10000 bytes" in errors["big"]
    assert "not a text page" in errors["logo"]
    assert "not a public address" in errors["metadata"]
    assert errors["gone"] == "HTTP 404"
    # Six distinct URLs, one of them redirected (two requests); the repeated URL was not fetched again.
    assert site.hosts.count(f"127.0.0.1:{site.server.server_address[1]}") == 7


async def test_a_private_address_is_refused_without_the_allow_list(site):
    fetcher = PageFetcher(AllowList.parse([]), timeout_s=5, max_bytes=10_000)
    assert await collect(fetcher.items([f"{site.url}/guide"])) == []
    assert "not a public address" in fetcher.failures[0]["error"] and site.hosts == []


async def test_a_confluence_space_imports_its_pages_as_markdown(db, counting_embedder, runtime):
    with FakeConfluence("cloud") as fake:
        fake.add_page("ENG", "Release process", "<h2>Freeze</h2><p>Code freeze starts on Thursday.</p>")
        fake.add_page("ENG", "Incident review", "<p>Write the timeline first.</p>")
        fake.add_page("OPS", "Pager", "<p>not this space</p>")
        info = connection("confluence", fake.url, {"email": EMAIL, "api_token": API_TOKEN})
        items = await collect(space_items(info, runtime, "ENG", max_pages=50))
        site = fake.url
    assert sorted(i.title for i in items) == ["Incident review", "Release process"]
    release = next(i for i in items if i.title == "Release process")
    assert "## Freeze" in release.text and release.url.startswith(site + "/wiki/")
    source = await make_source("core", "confluence:ENG", kind="confluence")
    await ingest(source, items, counting_embedder)
    hits = await engine(counting_embedder).search(source.team_id, "when does the code freeze start", kinds=["doc"])
    assert hits[0].title == "Release process" and hits[0].section == "Freeze"


async def test_a_folder_of_an_indexed_repository_stays_inside_it_and_inside_the_team(db, settings, tmp_path: Path):
    from app.db.repositories import code as code_store
    from app.db.repositories.identity import get_or_create_team
    from app.errors import InvalidRequest, NotFound
    from app.knowledge.sources import SourceReader
    from app.knowledge.specs import DocsSpec
    from app.search.service import SearchService

    (tmp_path / "docs").mkdir()
    (tmp_path.parent / f"{tmp_path.name}-sibling").mkdir(exist_ok=True)
    mine, theirs = await get_or_create_team("core"), await get_or_create_team("other")
    await code_store.get_or_create_repository(team_id=mine.id, name="app", source=str(tmp_path), source_kind="local")
    reader = SourceReader(settings, SearchService(settings), connections=lambda: None)

    def docs(**fields) -> DocsSpec:
        return DocsSpec.model_validate({"kind": "docs", "repository": "app"} | fields)

    assert await reader.folder(mine.id, docs(path="docs"), local=False) == (tmp_path / "docs").resolve()
    with pytest.raises(InvalidRequest, match="inside the repository"):
        await reader.folder(mine.id, docs(path=f"../{tmp_path.name}-sibling"), local=False)
    with pytest.raises(InvalidRequest, match="no folder"):
        await reader.folder(mine.id, docs(path="missing"), local=False)
    with pytest.raises(NotFound):
        await reader.folder(theirs.id, docs(path="docs"), local=False)
    with pytest.raises(InvalidRequest, match=r"search\.local_roots"):
        await reader.folder(mine.id, DocsSpec(kind="docs", path=str(tmp_path)), local=False)
