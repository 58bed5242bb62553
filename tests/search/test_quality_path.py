"""What the product-path quality work changed: the index formats (a bump re-chunks or re-embeds every file once),
the query as the embedding model reads it, score fusion and the symbol-name bonus."""

from __future__ import annotations

import hashlib

from app.db.models import Chunk
from app.db.repositories.identity import get_or_create_team
from app.search import chunker
from app.search.retrieval import embedding_query, fuse_scores, query_terms, symbol_match
from tests.search.conftest import CountingEmbedder
from tests.search.test_indexing import run_index


async def test_a_new_embedding_format_re_embeds_every_chunk_once(db, working_copy, monkeypatch):
    team = await get_or_create_team("core")
    first = CountingEmbedder()
    report = await run_index(working_copy, first, team_id=team.id)
    assert report.embedded == report.chunks
    again = CountingEmbedder()
    assert (await run_index(working_copy, again, team_id=team.id)).embedded == 0 and again.texts == []

    monkeypatch.setattr(chunker, "EMBEDDING_FORMAT", chunker.EMBEDDING_FORMAT + 1)
    monkeypatch.setattr(chunker, "CHUNK_FORMAT", chunker.CHUNK_FORMAT + 1)
    upgraded = CountingEmbedder()
    report = await run_index(working_copy, upgraded, team_id=team.id)
    # Every file counts as changed, and no vector of the old format is taken from the cache.
    assert report.changed == 5 and report.embedded == report.chunks == len(upgraded.texts)
    settled = CountingEmbedder()
    assert (await run_index(working_copy, settled, team_id=team.id)).embedded == 0
    assert await Chunk.filter(repository_id=report.repository_id).count() == report.chunks


async def test_a_new_chunk_format_re_chunks_every_file_and_keeps_the_vectors_of_unchanged_chunks(
    db, working_copy, monkeypatch
):
    team = await get_or_create_team("core")
    coarse = CountingEmbedder()
    # Every file's definitions merged into few chunks (the default is bound when chunk_file is defined).
    monkeypatch.setattr(chunker.chunk_file, "__kwdefaults__", {"max_chars": chunker.MAX_CHARS, "min_chars": 10_000})
    before = await run_index(working_copy, coarse, team_id=team.id)
    coarse_texts = set(coarse.texts)

    monkeypatch.setattr(chunker.chunk_file, "__kwdefaults__", {"max_chars": chunker.MAX_CHARS, "min_chars": 120})
    monkeypatch.setattr(chunker, "CHUNK_FORMAT", chunker.CHUNK_FORMAT + 1)
    fine = CountingEmbedder()
    after = await run_index(working_copy, fine, team_id=team.id)
    assert after.changed == 5 and after.chunks > before.chunks  # re-chunked, and finer
    stored = await Chunk.filter(repository_id=after.repository_id).count()
    assert stored == after.chunks
    # Only chunks that did not exist before were embedded; a chunk both cuts produced kept its vector.
    assert 0 < after.embedded < after.chunks and len(fine.texts) == after.embedded
    assert not set(fine.texts) & coarse_texts


def test_format_1_keeps_the_hashes_indexes_were_built_with():
    # Existing vectors must not be re-embedded until the embedding format really changes; files are
    # re-chunked once because the chunk format is 2.
    assert chunker.EMBEDDING_FORMAT == 1
    (chunk,) = chunker.chunk_file("a.py", "def f():\n    return 1\n", "python")
    assert chunk.content_hash == hashlib.sha256(b"a.py\ndef f():\n    return 1").hexdigest()
    assert chunker.CHUNK_FORMAT == 2 and chunker.indexed_file_hash("ab" * 32) != "ab" * 32


def test_a_symbol_the_query_spells_out_is_ranked_up():
    terms = query_terms("Return the number of retries left for this call.")
    assert {"retry", "number", "left"} <= terms
    assert symbol_match({"symbol": "retries_left"}, terms) == 2 / 3
    assert symbol_match({"symbol": "parse_header"}, terms) == 0.0 and symbol_match({"symbol": None}, terms) == 0.0
    vector = [{"id": 1, "score": 0.60, "symbol": "parse_header"}, {"id": 2, "score": 0.58, "symbol": "retries_left"}]
    fused = fuse_scores({"vector": vector}, 0.1, symbol_weight=0.06, terms=terms)
    assert [row["id"] for _, row, _ in fused] == [2, 1]
    plain = fuse_scores({"vector": vector}, 0.1)
    assert [row["id"] for _, row, _ in plain] == [1, 2]


def test_compound_identifiers_in_a_query_are_spelled_out_for_the_embedding_model():
    assert embedding_query("where is parseConfig called with max_retry_count") == (
        "where is parseConfig called with max_retry_count (parse config max retry count)"
    )
    assert embedding_query("open a TCP connection.") == "open a TCP connection."


def test_score_fusion_keeps_the_margin_between_candidates():
    vector = [{"id": 1, "score": 0.80}, {"id": 2, "score": 0.79}, {"id": 3, "score": 0.40}]
    text = [{"id": 3, "score": 0.9}, {"id": 2, "score": 0.3}, {"id": 4, "score": 0.6}]
    fused = fuse_scores({"vector": vector, "fts": text}, text_weight=0.1)
    order = [row["id"] for _, row, _ in fused]
    # 2 overtakes 1 on its words; 3's strong words cannot bridge its far lower similarity; 4, found only by
    # words, starts from the lowest similarity among the vector candidates.
    assert order == [2, 1, 3, 4]
    scores = {row["id"]: score for score, row, _ in fused}
    assert abs(scores[4] - (0.40 + 0.1 * 0.6 / 0.9)) < 1e-9
    assert fused[0][2] == {"vector": 2, "fts": 2}
