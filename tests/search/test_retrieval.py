"""Full-text, vector and hybrid retrieval through the search service, with filters, scoping and rerank."""

from __future__ import annotations

import pytest

from app.db.repositories.identity import get_or_create_team
from app.errors import NotFound
from app.search.rerank import LLMReranker
from app.search.retrieval import fuse, tsquery
from app.search.service import SearchService


@pytest.fixture
async def indexed(db, settings, working_copy):
    service = SearchService(settings)
    team = await get_or_create_team("core")
    await service.index_path(working_copy, team_id=team.id, name="shop")
    return service, team.id


def paths(hits) -> list[str]:
    return [h.path for h in hits]


async def test_full_text_matches_identifier_parts(indexed):
    service, team_id = indexed
    hits, names = await service.search("total amount", team_id=team_id, mode="fts")
    assert hits[0].path == "src/billing/invoice.py" and "def total_amount" in hits[0].text
    assert set(hits[0].ranks) == {"fts"} and names[hits[0].repository_id] == "shop"
    assert (await service.search("the of and", team_id=team_id, mode="fts"))[0] == []


async def test_vectors_find_code_by_meaning_without_shared_words(indexed):
    service, team_id = indexed
    hits, _ = await service.search("connect to a remote machine over the network", team_id=team_id, mode="vector")
    assert hits[0].path == "src/net/http_client.py" and set(hits[0].ranks) == {"vector"}
    assert 0 < hits[0].score <= 1


async def test_hybrid_fuses_both_rankings(indexed):
    service, team_id = indexed
    hits, _ = await service.search("sum of the cart item prices", team_id=team_id)
    assert hits[0].path == "web/src/cart.ts"
    assert hits[0].ranks.keys() == {"fts", "vector"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:  # hits point at real lines
        assert 1 <= hit.start_line <= hit.end_line and hit.text.count("\n") == hit.end_line - hit.start_line


async def test_filters_by_language_path_prefix_and_repository(indexed, working_copy):
    service, team_id = indexed
    go, _ = await service.search("lookup user by email", team_id=team_id, language="go")
    assert go and set(paths(go)) == {"server/users.go"}
    net, _ = await service.search("connection", team_id=team_id, path_prefix="src/net/")
    assert net and all(p.startswith("src/net/") for p in paths(net))
    # LIKE wildcards in a prefix are literal characters, not patterns.
    assert (await service.search("connection", team_id=team_id, path_prefix="src/ne_"))[0] == []
    await service.index_path(working_copy / "web", team_id=team_id, name="web-only")
    only_web, names = await service.search("cart total", team_id=team_id, repos=["web-only"])
    assert only_web and {names[h.repository_id] for h in only_web} == {"web-only"}
    with pytest.raises(NotFound, match="no-such-index"):
        await service.search("cart", team_id=team_id, repos=["no-such-index"])


async def test_another_team_sees_nothing(indexed):
    service, _ = indexed
    stranger = await get_or_create_team("strangers")
    assert (await service.search("invoice total", team_id=stranger.id))[0] == []
    with pytest.raises(NotFound):
        await service.search("invoice", team_id=stranger.id, repos=["shop"])


async def test_the_rerank_step_reorders_the_shortlist_and_survives_a_failing_model(indexed):
    service, team_id = indexed
    baseline, _ = await service.search("invoice line items", team_id=team_id, top_k=4, rerank=False)
    prompts = []

    async def reverse(prompt: str) -> str:
        prompts.append(prompt)
        return "\n".join(f"{i + 1}. [{h.denotation}]" for i, h in enumerate(reversed(baseline)))

    service.reranker = LLMReranker(reverse)
    reranked, _ = await service.search("invoice line items", team_id=team_id, top_k=4, rerank=True)
    assert "Query: invoice line items" in prompts[0]
    # The model saw the whole shortlist (more than top_k); the ones it named come first, in its order.
    assert all(h.denotation in prompts[0] for h in baseline)
    assert [h.denotation for h in reranked] == [h.denotation for h in reversed(baseline)]
    assert [h.ranks["rerank"] for h in reranked] == [1, 2, 3, 4]

    async def broken(prompt: str) -> str:
        raise RuntimeError("model down")

    service.reranker = LLMReranker(broken)
    kept, _ = await service.search("invoice line items", team_id=team_id, top_k=4, rerank=True)
    assert [h.denotation for h in kept] == [h.denotation for h in baseline]


def test_tsquery_drops_stop_words_and_splits_identifiers():
    assert tsquery("How does parseConfig handle the retries?") == "parseconfig | parse | config | handle | retries"
    assert tsquery("the and of") is None


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = fuse({"fts": [{"id": 1}, {"id": 2}], "vector": [{"id": 2}, {"id": 3}]}, k=60)
    assert [row["id"] for _, row, _ in fused] == [2, 1, 3]
    assert fused[0][2] == {"fts": 2, "vector": 1}
    assert fused[0][0] == pytest.approx(1 / 62 + 1 / 61)
    # Weights scale a method's votes: a strong enough lead in the heavier method wins.
    weighted = fuse({"fts": [{"id": 1}, {"id": 2}], "vector": [{"id": 3}, {"id": 2}]}, k=1, weights={"fts": 0.1})
    assert [row["id"] for _, row, _ in weighted] == [3, 2, 1]
