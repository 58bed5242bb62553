"""The knowledge store and its search: hybrid ranking, kind filters, team isolation, attribution carried to
hits, code blocks of answers as code chunks, and idempotent re-imports."""

from __future__ import annotations

from app.db.models import KnowledgeChunk, KnowledgeDocument, KnowledgeSource
from app.knowledge.items import KnowledgeItem, stack_overflow_attribution
from tests.knowledge.conftest import engine, ingest, make_source

ANSWER = """Use `asyncio.wait_for` to bound the wait; it cancels the task when the timeout expires.

```python
async def fetch_with_deadline(session, url):
    return await asyncio.wait_for(session.get(url), timeout=5)
```

On Python 3.11 `asyncio.timeout()` is the context-manager form."""


def answer_item() -> KnowledgeItem:
    return KnowledgeItem(
        external_id="q10/a11",
        kind="qa",
        title="How do I put a timeout on an asyncio call?",
        text=ANSWER,
        url="https://stackoverflow.com/a/11",
        meta={
            "question": "How do I put a timeout on an asyncio call?",
            "question_text": "My coroutine hangs forever when the server does not answer.",
            "score": 42,
            "accepted": True,
            "tags": ["python", "asyncio"],
            "question_id": 10,
            "answer_id": 11,
        },
        attribution=stack_overflow_attribution(
            author="Ada",
            author_url="https://stackoverflow.com/users/7",
            link="https://stackoverflow.com/a/11",
            created=(2020, 1),
            site="Stack Overflow",
        ),
        language_hint="python",
    )


def doc_item(external_id: str, title: str, text: str) -> KnowledgeItem:
    return KnowledgeItem(external_id=external_id, kind="doc", title=title, text=text, url=f"https://docs/{external_id}")


DOCS = [
    doc_item(
        "deploy.md",
        "Deploying",
        "# Deploying\n\nRun the release pipeline from the main branch.\n\n"
        "## Rollback\n\nTo roll back a release, redeploy the previous tag with `make deploy TAG=...`.",
    ),
    doc_item("billing.md", "Billing", "# Invoices\n\nInvoices are generated monthly and emailed to the account owner."),
]


async def test_search_ranks_the_relevant_chunks_with_their_facts_and_credit(db, counting_embedder):
    qa = await make_source("core", "so-python", kind="stackexchange")
    docs = await make_source("core", "handbook")
    await ingest(qa, [answer_item()], counting_embedder)
    await ingest(docs, DOCS, counting_embedder)

    hits = await engine(counting_embedder).search(qa.team_id, "timeout for an asyncio coroutine", limit=5)
    assert hits[0].kind in ("qa", "qa_code") and hits[0].source == "so-python"
    answer = next(h for h in hits if h.kind == "qa")
    assert answer.qa == {
        "question": "How do I put a timeout on an asyncio call?",
        "score": 42,
        "accepted": True,
        "tags": ["python", "asyncio"],
        "question_id": 10,
        "answer_id": 11,
    }
    assert answer.attribution["licence"] == "CC BY-SA 4.0" and answer.attribution["author"] == "Ada"
    assert "Answer by Ada on Stack Overflow, CC BY-SA 4.0: https://stackoverflow.com/a/11" == answer.attribution["text"]
    assert answer.text.startswith("Question: How do I put a timeout") and "Answer:" in answer.text

    code = await engine(counting_embedder).search(qa.team_id, "wait_for timeout", kinds=["qa_code"])
    assert [h.kind for h in code] == ["qa_code"]
    assert code[0].language == "python" and code[0].text.startswith("async def fetch_with_deadline")

    rollback = await engine(counting_embedder).search(qa.team_id, "how to roll back a release", kinds=["doc"])
    assert (
        rollback[0].title == "Deploying"
        and rollback[0].section == "Deploying > Rollback"
        and rollback[0].url == "https://docs/deploy.md"
    )
    assert rollback[0].attribution is None and rollback[0].qa is None
    assert all(h.kind == "doc" for h in rollback)


async def test_another_teams_knowledge_is_never_found(db, counting_embedder):
    mine = await make_source("core", "handbook")
    theirs = await make_source("other", "handbook")
    await ingest(theirs, DOCS, counting_embedder)
    assert await engine(counting_embedder).search(mine.team_id, "roll back a release") == []
    await ingest(mine, DOCS[1:], counting_embedder)
    hits = await engine(counting_embedder).search(mine.team_id, "roll back a release deploy tag", limit=20)
    assert hits and all("Billing" in h.title for h in hits)


async def test_empty_queries_and_kinds_find_nothing(db, counting_embedder):
    source = await make_source("core", "handbook")
    await ingest(source, DOCS, counting_embedder)
    assert await engine(counting_embedder).search(source.team_id, "   ") == []
    assert await engine(counting_embedder).search(source.team_id, "deploy", kinds=[]) == []


async def test_reimporting_skips_unchanged_items_and_reembeds_only_changed_chunks(db, counting_embedder):
    source = await make_source("core", "handbook")
    first = await ingest(source, DOCS, counting_embedder)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    embedded = len(counting_embedder.texts)
    chunk_ids = set(await KnowledgeChunk.filter(source_id=source.id).values_list("id", flat=True))

    again = await ingest(source, DOCS, counting_embedder)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert len(counting_embedder.texts) == embedded  # nothing embedded again
    assert set(await KnowledgeChunk.filter(source_id=source.id).values_list("id", flat=True)) == chunk_ids

    edited = [DOCS[0], doc_item("billing.md", "Billing", "# Invoices\n\nInvoices are generated weekly now.")]
    third = await ingest(source, edited, counting_embedder)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    assert counting_embedder.texts[embedded:] == ["Billing — Invoices\n\nInvoices are generated weekly now."]
    assert await KnowledgeDocument.filter(source_id=source.id).count() == 2
    texts = await KnowledgeChunk.filter(source_id=source.id).values_list("text", flat=True)
    assert "Invoices are generated monthly and emailed to the account owner." not in texts
    row = await KnowledgeSource.get(id=source.id)
    assert row.document_count == 2 and row.chunk_count == len(texts)


async def test_a_full_snapshot_import_prunes_what_disappeared(db, counting_embedder):
    source = await make_source("core", "handbook")
    await ingest(source, DOCS, counting_embedder)
    stats = await ingest(source, DOCS[:1], counting_embedder, prune=True)
    assert stats.pruned == 1
    assert await KnowledgeDocument.filter(source_id=source.id).values_list("external_id", flat=True) == ["deploy.md"]
    assert await engine(counting_embedder).search(source.team_id, "invoices monthly", kinds=["doc"], limit=3)
    assert all(
        h.title.startswith("Deploying")
        for h in await engine(counting_embedder).search(source.team_id, "invoices monthly", kinds=["doc"], limit=3)
    )


async def test_the_package_search_uses_the_configured_embedder(db, settings, counting_embedder):
    from app.knowledge import configure, search

    source = await make_source("core", "handbook")
    await ingest(source, DOCS, counting_embedder)
    configure(settings)  # the local model, as the app and the worker configure it
    hits = await search(source.team_id, "roll back a release", kinds=["doc"], limit=2)
    assert hits[0].section == "Deploying > Rollback" and hits[0].ranks.get("vector") == 1
    assert await search(source.team_id, "roll back", kinds=["qa"]) == []
