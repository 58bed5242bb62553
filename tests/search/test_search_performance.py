"""What makes search and indexing cheap must not change what they answer: the one-statement candidate query,
the unchanged-repository fast path (no model load, no embedding), and the pipelined indexer."""

from __future__ import annotations

import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from app.db.models import Chunk, Repository
from app.db.repositories import code as store
from app.db.repositories.identity import get_or_create_team
from app.search import indexer
from app.search.embeddings import Embedder, LazyEmbedder, local_embedder
from app.search.retrieval import embedding_query, tsquery
from app.search.service import SearchService
from tests.search.conftest import CountingEmbedder
from tests.search.test_indexing import run_index


async def index_rows(repo_id: int) -> list[tuple]:
    rows = await Chunk.filter(repository_id=repo_id).order_by("id").values_list("id", "path", "content_hash", "text")
    return [tuple(row) for row in rows]


async def test_one_statement_returns_what_the_separate_queries_return(db, working_copy, counting_embedder):
    team = await get_or_create_team("core")
    repo_id = (await run_index(working_copy, counting_embedder, team_id=team.id)).repository_id
    terms = tsquery("total amount of the cart items")
    (vector,) = local_embedder().embed([embedding_query("sum of the cart item prices")])
    for prefix, language in ((None, None), ("src/", None), (None, "typescript")):
        filters = {"path_prefix": prefix, "language": language}
        both = await store.candidates(terms, vector, [repo_id], [repo_id], limit=5, ef_search=40, **filters)
        assert both["fts"] == await store.full_text(terms, [repo_id], limit=5, **filters)
        nearest = await store.nearest(vector, [repo_id], limit=5, ef_search=40, **filters)
        assert both["vector"] == [{k: v for k, v in row.items() if k != "distance"} for row in nearest]
    assert both["fts"] and both["vector"]
    # A method without input (no words, or no repository embedded with this model) is left out, not empty.
    assert set(await store.candidates(None, vector, [repo_id], [repo_id], limit=5, ef_search=40)) == {"vector"}
    assert set(await store.candidates(terms, vector, [repo_id], [], limit=5, ef_search=40)) == {"fts"}
    assert await store.candidates(None, None, [repo_id], [repo_id], limit=5, ef_search=40) == {}
    assert await store.candidates(terms, vector, [repo_id + 999], [repo_id + 999], limit=5, ef_search=40) == {
        "fts": [],
        "vector": [],
    }


async def test_the_hnsw_settings_reach_the_index_scan_and_do_not_outlive_the_statement(
    db, working_copy, counting_embedder
):
    team = await get_or_create_team("core")
    repo_id = (await run_index(working_copy, counting_embedder, team_id=team.id)).repository_id
    (vector,) = local_embedder().embed(["open a network connection"])
    chunks = await Chunk.filter(repository_id=repo_id).count()
    async with in_transaction() as connection:
        # The index scan forced, and its defaults as strict as possible: with ef_search 1 and no iterative
        # scan the index yields a single row, so a full answer proves the statement's own settings were in
        # force when the scan started.
        await connection.execute_script(
            "SET LOCAL enable_seqscan = off; SET LOCAL hnsw.ef_search = 1; SET LOCAL hnsw.iterative_scan = off"
        )
        plan = await connection.execute_query_dict(
            "EXPLAIN SELECT id FROM chunks c WHERE c.embedding_dim = 384 "
            "ORDER BY c.embedding::vector(384) <=> $1::vector(384) LIMIT 5",
            [vector],
        )
        assert "chunks_embedding_384_idx" in " ".join(row["QUERY PLAN"] for row in plan)
        plain = await connection.execute_query_dict(
            "SELECT id FROM chunks c WHERE c.embedding_dim = 384 "
            "ORDER BY c.embedding::vector(384) <=> $1::vector(384) LIMIT 5",
            [vector],
        )
        assert len(plain) == 1 < chunks  # what the index scan yields under those defaults
        rows = await store.candidates(None, vector, [repo_id], [repo_id], limit=5, ef_search=100)
        assert len(rows["vector"]) == min(5, chunks)
        setting = await connection.execute_query_dict("SELECT current_setting('hnsw.ef_search') AS v")
        assert setting[0]["v"] == "100"  # set for the transaction it ran in, as SET LOCAL would
    pooled = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS scan"
    )
    await store.candidates(None, vector, [repo_id], [repo_id], limit=5, ef_search=7)
    after = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS scan"
    )
    assert after == pooled and after[0]["ef"] != "7"


async def test_an_unchanged_repository_reindexes_without_loading_the_model(db, settings, working_copy):
    team = await get_or_create_team("core")
    first = await SearchService(settings).index_path(working_copy, team_id=team.id, name="shop")
    before = await index_rows(first.repository_id)
    fresh = SearchService(settings)  # as a new `adjutant index` process would
    again = await fresh.index_path(working_copy, team_id=team.id, name="shop")
    assert fresh._embedder is None  # the model was never loaded
    assert (again.changed, again.embedded, again.chunks) == (0, 0, first.chunks)
    assert await index_rows(first.repository_id) == before  # same rows, not rewritten
    assert (await Repository.get(id=first.repository_id)).status == "READY"
    # The lazy embedder still loads when there is something to embed.
    (working_copy / "src" / "new_module.py").write_text("def brand_new_function():\n    return 42\n")
    edited = await fresh.index_path(working_copy, team_id=team.id, name="shop")
    assert fresh._embedder is not None and edited.changed == 1 and edited.embedded >= 1


def test_the_lazy_embedder_loads_on_first_use_only():
    loads = []

    def load() -> Embedder:
        loads.append(1)
        return local_embedder()

    lazy = LazyEmbedder("all-MiniLM-L6-v2", 384, load)
    assert (lazy.model, lazy.dimension, lazy.embed([]), loads) == ("all-MiniLM-L6-v2", 384, [], [])
    assert lazy.embed(["x"]) == local_embedder().embed(["x"]) and lazy.embed(["y"]) and loads == [1]


async def test_many_small_rounds_store_the_same_index_as_one(db, working_copy, monkeypatch):
    team = await get_or_create_team("core")
    whole = CountingEmbedder()
    one = await run_index(working_copy, whole, team_id=team.id, name="one-round")
    monkeypatch.setattr(indexer, "EMBED_BATCH_CHUNKS", 1)  # a round per file: writes overlap embedding
    monkeypatch.setattr(indexer, "LOAD_BATCH_FILES", 2)
    rounds = CountingEmbedder(model="other-space")  # no reuse of the first index's vectors
    many = await run_index(working_copy, rounds, team_id=team.id, name="many-rounds")
    assert (many.files, many.chunks, many.embedded) == (one.files, one.chunks, one.chunks)
    assert sorted(rounds.texts) == sorted(whole.texts)

    def shape(rows: list[tuple]) -> list[tuple]:
        return sorted(row[1:] for row in rows)

    assert shape(await index_rows(many.repository_id)) == shape(await index_rows(one.repository_id))


class FailsOnSecondRound(CountingEmbedder):
    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.texts:
            raise RuntimeError("model crashed")
        return super().embed(texts)


async def test_a_failure_in_a_later_round_fails_the_index_and_leaves_no_write_running(db, working_copy, monkeypatch):
    team = await get_or_create_team("core")
    monkeypatch.setattr(indexer, "EMBED_BATCH_CHUNKS", 1)
    with pytest.raises(RuntimeError, match="model crashed"):
        await run_index(working_copy, FailsOnSecondRound(), team_id=team.id)
    repo = await Repository.get(team_id=team.id, name="shop")
    assert repo.status == "FAILED" and "model crashed" in repo.error
    written = await Chunk.filter(repository_id=repo.id).count()
    # Nothing is written after the failure: a later look finds the same rows.
    assert await Chunk.filter(repository_id=repo.id).count() == written
    again = await run_index(working_copy, CountingEmbedder(), team_id=team.id)
    assert again.files == len({c.path for c in await Chunk.filter(repository_id=repo.id)})
