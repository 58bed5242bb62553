"""Docs lookup over the knowledge store: the page about a topic is found and scored by how close it is, an
unrelated topic finds no page, and the suggested edit is a diff against the text that was found."""

from __future__ import annotations

from app import knowledge
from app.db.repositories import knowledge as knowledge_store
from app.db.repositories.identity import get_or_create_team
from app.feedback.docs_lookup import related_pages
from app.feedback.suggestion import edit_diff
from app.knowledge.ingest import Ingest
from app.knowledge.items import KnowledgeItem
from app.search.embeddings import local_embedder

INSTALL = (
    "# Installing on Windows\n\nDownload the installer and run it.\n\n"
    "## After installing\n\nOpen a new terminal and run `adjutant --version`."
)
BILLING = "# Billing\n\nInvoices are sent on the first of each month to the account owner."


async def items(*found: KnowledgeItem):
    for item in found:
        yield item


async def test_the_related_page_is_found_scored_and_diffed_and_an_unrelated_topic_finds_none(db, settings):
    knowledge.configure(settings)
    team = await get_or_create_team("core")
    other = await get_or_create_team("other")
    source = await knowledge_store.get_or_create_source(team_id=team.id, kind="docs", name="docs", config={})
    docs = [
        KnowledgeItem("install.md", "doc", "Installing on Windows", INSTALL, url="https://docs.example.com/install"),
        KnowledgeItem("billing.md", "doc", "Billing", BILLING, url="https://docs.example.com/billing"),
    ]
    ingest = Ingest(team_id=team.id, source_id=source.id, embedder=local_embedder(), max_chunk_chars=1200, max_items=10)
    await ingest.run(items(*docs))

    topic = "The Windows install guide does not say to add the binary to PATH"
    pages = await related_pages(team.id, topic, min_score=0.35)
    assert [p.url for p in pages] == ["https://docs.example.com/install"]
    assert 0.35 <= pages[0].score <= 1 and "run `adjutant --version`" in pages[0].text
    everything = await related_pages(team.id, topic, min_score=0.0)
    assert next(p.url for p in everything) == "https://docs.example.com/install" and len(everything) == 2
    assert everything[0].score > everything[1].score

    assert await related_pages(team.id, "How do I rotate the Kafka consumer group offsets?", min_score=0.35) == []
    assert await related_pages(other.id, topic) == []  # another team's documentation is never searched
    assert await related_pages(team.id, "   ") == []

    diff = edit_diff(pages[0], "After installing", "Add the install folder to PATH, then open a new terminal.")
    assert "+Add the install folder to PATH, then open a new terminal." in diff
    assert "-Open a new terminal and run `adjutant --version`." in diff
