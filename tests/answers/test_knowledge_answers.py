"""Answers drawing on the knowledge store: a Q&A imported for the team is retrieved, held to the same
relevance floor as code, and cited with its link and attribution."""

from __future__ import annotations

from app.db.repositories import knowledge as knowledge_store
from app.db.repositories.identity import team_named
from app.knowledge.ingest import Ingest
from app.knowledge.items import KnowledgeItem
from tests.answers.conftest import ask

ANSWER = (
    "Call `task.cancel()` and then await the task; it raises `CancelledError` inside the coroutine.\n\n"
    "```python\ntask = asyncio.create_task(worker())\ntask.cancel()\ntry:\n    await task\n"
    "except asyncio.CancelledError:\n    pass\n```\n"
)
ATTRIBUTION = {"licence": "CC BY-SA 4.0", "author": "ada", "link": "https://stackoverflow.com/a/1", "text": "ada"}


async def import_qa(service) -> None:
    team = await team_named("core")
    source = await knowledge_store.get_or_create_source(team_id=team.id, kind="faq", name="faq", config={})
    item = KnowledgeItem(
        external_id="q1/a1",
        kind="qa",
        title="How do I cancel a running asyncio task?",
        text=ANSWER,
        url="https://stackoverflow.com/a/1",
        meta={"question": "How do I cancel a running asyncio task?", "score": 12, "accepted": True},
        attribution=ATTRIBUTION,
    )

    async def items():
        yield item

    ingest = Ingest(
        team_id=team.id,
        source_id=source.id,
        embedder=service.app.ctx.search.embedder(),
        max_chunk_chars=1500,
        max_items=10,
    )
    await ingest.run(items())


async def test_a_qa_answer_is_cited_with_its_link_and_attribution(answering):
    await import_qa(answering)
    answering.chat.play({"text": "Cancel it with task.cancel() and await it [1]; see also [9]."})
    response = await ask(answering, {"query": "how can I cancel a running asyncio task?", "sources": ["qa"]})
    data = response.json()["data"]
    assert response.status_code == 200 and data["answered"] is True, data
    assert data["sources"] and {s["kind"] for s in data["sources"]} == {"qa"}
    first = data["sources"][0]
    assert first["url"] == "https://stackoverflow.com/a/1" and first["attribution"]["licence"] == "CC BY-SA 4.0"
    assert first["relevance"] is not None and first["relevance"] >= 0.25
    assert data["citations"] == {"cited": [1], "removed": [9]}


async def test_knowledge_is_held_to_the_relevance_floor_and_scoped_to_the_team(answering):
    await import_qa(answering)
    unrelated = await ask(answering, {"query": "which birds winter in Antarctica", "sources": ["qa"]})
    assert unrelated.json()["data"]["answered"] is False
    outsider = await answering.issue_token(email="eve@example.com", team="other")
    foreign = await ask(answering, {"query": "how can I cancel a running asyncio task?"}, token=outsider)
    assert foreign.json()["data"]["answered"] is False and foreign.json()["data"]["sources"] == []
    assert answering.chat.calls() == []
