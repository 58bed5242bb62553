"""Full text leaves out the words PostgreSQL's statistics call common, keeps the rarest of a query made only
of them, and changes nothing while no statistics exist."""

from __future__ import annotations

import pytest

from app.db.connection import close_database, open_database
from app.db.repositories import chunk_stats
from app.db.repositories import code as store
from app.db.repositories.chunk_stats import LexemeShares
from app.db.repositories.identity import get_or_create_team
from app.search import term_shares
from app.search.retrieval import CodeSearch
from app.search.term_shares import TermShares, informative_terms
from tests.search.test_indexing import run_index

CHUNKS = 40  # under autovacuum's threshold (50 rows), so only an explicit ANALYZE gives statistics


def no_embedder():
    raise AssertionError("full-text searches never load the model")


def engine(max_term_share: float) -> CodeSearch:
    return CodeSearch(no_embedder, candidates=100, rrf_k=10, ef_search=40, max_term_share=max_term_share)


@pytest.fixture
async def corpus(db, monkeypatch):
    """40 chunks: every one says `widget`, every fourth `gadget`, one `zebra`. Returns the repository id."""
    # At a real index's size a common word matches thousands of chunks; here 40 must do.
    monkeypatch.setattr(term_shares, "MIN_COMMON_ROWS", 0)
    team = await get_or_create_team("core")
    repo = await store.get_or_create_repository(team_id=team.id, name="toys", source="/toys", source_kind="local")
    rows = []
    for i in range(CHUNKS):
        words = ["widget", f"part{i}"] + (["gadget"] if i % 4 == 0 else []) + (["zebra"] if i == 7 else [])
        text = " ".join(words)
        rows.append(
            store.ChunkRow(
                path="toys.py",
                start_line=i + 1,
                end_line=i + 1,
                language="python",
                symbol=None,
                symbols=[],
                text=text,
                search_text=text,
                content_hash=f"{i:064x}",
                embedding=None,
            )
        )
    await store.replace_file(
        team_id=team.id, repo_id=repo.id, path="toys.py", content_hash="0" * 64, language="python", size=1, chunks=rows
    )
    return repo.id


async def fts_lines(search: CodeSearch, query: str, repo_id: int) -> list[int]:
    return [hit.start_line for hit in await search.search(query, [repo_id], top_k=100, mode="fts")]


async def analyzed_engine(max_term_share: float) -> CodeSearch:
    assert await chunk_stats.analyze_after_write(CHUNKS)  # never analyzed: it runs
    search = engine(max_term_share)
    await search.term_shares.refresh()
    return search


async def test_the_statistics_give_each_common_lexeme_its_share_of_the_chunks(corpus):
    assert await chunk_stats.lexeme_shares() == LexemeShares(0.0, {})  # never analyzed
    await chunk_stats.analyze_after_write(CHUNKS)
    stats = await chunk_stats.lexeme_shares()
    assert stats.rows == CHUNKS
    assert stats.shares["widget"] == pytest.approx(1.0)
    assert stats.shares["gadget"] == pytest.approx(10 / CHUNKS)
    assert stats.shares.get("zebra", 0.0) == pytest.approx(1 / CHUNKS)


async def test_a_word_over_the_share_is_left_out_of_what_is_matched(corpus):
    pruned = await analyzed_engine(0.5)
    # `widget` (every chunk) no longer selects chunks: only the one that says zebra is ranked.
    assert await fts_lines(pruned, "widget zebra", corpus) == [8]
    filtered = pruned.search("widget zebra", [corpus], top_k=100, mode="fts", path_prefix="toys", language="python")
    assert [hit.start_line for hit in await filtered] == [8]
    assert await pruned.search("widget zebra", [corpus], top_k=100, mode="fts", language="go") == []
    # Without the setting (1 = keep every word) all 40 match, zebra's chunk first.
    everything = await fts_lines(await analyzed_engine(1.0), "widget zebra", corpus)
    assert everything[0] == 8 and len(everything) == CHUNKS


async def test_a_query_of_only_common_words_still_searches_for_the_rarest(corpus):
    pruned = await analyzed_engine(0.2)  # widget (1.0) and gadget (0.25) are both over it
    assert sorted(await fts_lines(pruned, "widget gadget", corpus)) == [1, 5, 9, 13, 17, 21, 25, 29, 33, 37]
    assert len(await fts_lines(pruned, "widget", corpus)) == CHUNKS  # a single word is always kept


async def test_ranking_still_counts_the_words_left_out(corpus):
    pruned = await analyzed_engine(0.5)
    hits = await pruned.search("widget gadget", [corpus], top_k=100, mode="fts")
    # gadget selects its ten chunks; widget, left out of the match, still adds to their rank as it did.
    baseline = await engine(1.0).search("widget gadget", [corpus], top_k=10, mode="fts")
    assert [(h.start_line, h.score) for h in hits] == [(h.start_line, h.score) for h in baseline]


async def test_without_statistics_nothing_is_left_out(corpus):
    search = engine(0.05)
    shares = search.term_shares
    assert shares.current() is None  # the first read starts in the background; this search prunes nothing
    await shares._refreshing
    assert shares.current() == LexemeShares(0.0, {})  # never analyzed: nothing to judge by
    for query in ("widget zebra", "widget gadget", "gadget"):
        assert await fts_lines(search, query, corpus) == await fts_lines(engine(1.0), query, corpus)


async def test_the_shares_are_read_again_only_once_they_are_stale(corpus):
    now = [0.0]
    shares = TermShares(refresh_after_s=60, clock=lambda: now[0])
    await shares.refresh()
    assert shares.current() == LexemeShares(0.0, {})
    await chunk_stats.analyze_after_write(CHUNKS)
    now[0] = 59.0
    assert shares.current() == LexemeShares(0.0, {})  # fresh enough: no new read
    assert shares._refreshing is None
    now[0] = 61.0
    shares.current()
    await shares._refreshing
    assert shares.current().shares["widget"] == pytest.approx(1.0)


async def test_a_failed_read_keeps_what_was_known(corpus, database_url, settings):
    now = [0.0]
    shares = TermShares(refresh_after_s=60, clock=lambda: now[0])
    await chunk_stats.analyze_after_write(CHUNKS)
    await shares.refresh()
    known = shares.current()
    assert known is not None and known.shares
    now[0] = 61.0
    port = database_url.rsplit(":", 1)[1].split("/")[0]
    await close_database()
    await open_database(database_url.replace(f":{port}/", ":1/"), settings.database)  # nothing listens there
    try:
        shares.current()  # stale at once: a background read starts, and fails
        await shares._refreshing
        assert shares.current() is known
    finally:
        await close_database()
        await open_database(database_url, settings.database)


def test_a_compound_word_is_as_rare_as_its_rarest_part():
    stats = LexemeShares(100_000, {"fixture": 0.3, "info": 0.2, "log": 0.4})
    # PostgreSQL searches fixture_info as the phrase fixture <-> info: at most info's share.
    assert informative_terms(["fixture_info", "log"], stats, 0.25) == ["fixture_info"]
    assert informative_terms(["fixture_info", "log"], stats, 0.1) == ["fixture_info"]  # the rarest, kept
    assert informative_terms(["log", "zebra"], stats, 0.1) == ["zebra"]  # unlisted: rarer than all listed


def test_a_small_index_keeps_every_word():
    # 30% of 1,000 chunks is 300: cheap to rank, so the word is kept whatever its share.
    assert informative_terms(["log", "zebra"], LexemeShares(1_000, {"log": 0.3}), 0.05) == ["log", "zebra"]
    assert informative_terms(["log", "zebra"], LexemeShares(100_000, {"log": 0.3}), 0.05) == ["zebra"]


async def test_statistics_are_refreshed_after_a_tenth_of_the_rows_changed(corpus):
    assert await chunk_stats.analyze_after_write(1)  # never analyzed: any write is reason enough
    assert not await chunk_stats.analyze_after_write(0)
    assert not await chunk_stats.analyze_after_write(3)  # 3 of 40 rows
    assert await chunk_stats.analyze_after_write(4)


async def test_indexing_analyzes_the_chunks_it_wrote(db, working_copy, counting_embedder):
    team = await get_or_create_team("core")
    report = await run_index(working_copy, counting_embedder, team_id=team.id)
    stats = await chunk_stats.lexeme_shares()
    assert stats.rows == report.chunks and stats.shares["py"] > 0  # every chunk's search text names its path
