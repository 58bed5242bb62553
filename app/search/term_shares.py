"""Which of a query's full-text words select the chunks that full text ranks, judged by how many chunks
contain them.

The full-text half ranks every chunk that matches its OR query before it keeps the best few. A word most
chunks contain (`self`, `name`, `type`) makes it read and rank most of the index (at 100k chunks, four code
words matched 19k chunks at the median, 59k at p95) while telling little apart: ts_rank has no inverse
document frequency. PostgreSQL already counts the most common lexemes of `chunks.tsv` when it analyzes
the table, so a word above a share of the chunks no longer selects chunks on its own; it still counts in
the rank of the chunks the other words select, which keeps the ranking as it was (leaving such words out
of the rank too cost 0.07 full-text MRR@10 on the tuning set at a 5% share, against 0.007 this way).

Not taken: ranking a bounded number of the matches (gin_fuzzy_search_limit, a LIMIT before ts_rank)
ranks an arbitrary subset, so one query can answer differently from one run to the next; an AND of the
words when all are common saved less than its risk of matching nothing (identifier parts such as
type/error always come together, so the AND is hardly rarer than the rarest word).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import asyncpg
from tortoise.exceptions import BaseORMException

from app.db.repositories import chunk_stats
from app.db.repositories.chunk_stats import LexemeShares

log = logging.getLogger("adjutant.search")

# Ranking this many chunks costs a few milliseconds (bench/search_scale.py): below it leaving words out
# would only cost quality.
MIN_COMMON_ROWS = 1000
REFRESH_AFTER_S = 60.0  # statistics change only when ANALYZE runs: rereading them every minute is plenty


def share_of(term: str, shares: Mapping[str, float]) -> float:
    """The share of chunks containing `term`; 0 when the statistics do not list it (rarer than all listed).
    PostgreSQL's parser splits a word at underscores (`fixture_info` is searched as the phrase fixture <->
    info), so such a term is at most as common as its rarest part."""
    parts = [part for part in term.split("_") if part]
    return min((shares.get(part, 0.0) for part in parts), default=0.0)


def informative_terms(terms: Sequence[str], stats: LexemeShares | None, max_share: float) -> list[str]:
    """`terms` without the common ones: those more than `max_share` of the chunks contain, and more than
    MIN_COMMON_ROWS chunks (fewer cost little to rank, however large their share of a small index). If
    that leaves none, the rarest (all of equal rarity), so a query of common words still searches. In the
    order given; all of them without statistics."""
    if stats is None or not stats.shares or max_share >= 1.0:
        return list(terms)
    limit = max(max_share, MIN_COMMON_ROWS / stats.rows) if stats.rows else 1.0
    share = {term: share_of(term, stats.shares) for term in terms}
    kept = [term for term in terms if share[term] <= limit]
    if kept or not terms:
        return kept
    rarest = min(share.values())
    return [term for term in terms if share[term] == rarest]


class TermShares:
    """The lexeme shares of the chunks table, cached in the process. Reading them never delays a search: a
    search that finds the map stale starts a refresh in the background and uses what it has (nothing at
    first, which only means that no term is left out)."""

    def __init__(self, *, refresh_after_s: float = REFRESH_AFTER_S, clock: Callable[[], float] = time.monotonic):
        self.refresh_after_s = refresh_after_s
        self.clock = clock
        self._shares: LexemeShares | None = None
        self._read_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None

    def current(self) -> LexemeShares | None:
        """The shares as last read; a refresh starts in the background when they are older than allowed."""
        stale = self._read_at is None or self.clock() - self._read_at > self.refresh_after_s
        if stale and not self._refresh_running():
            self._refreshing = asyncio.get_running_loop().create_task(self.refresh())
        return self._shares

    async def refresh(self) -> None:
        """Read the shares now. A failed read keeps the previous map and waits the usual time to retry, so
        a database that refuses does not cost every search a new attempt."""
        try:
            self._shares = await chunk_stats.lexeme_shares()
        except (TimeoutError, BaseORMException, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.info("full-text term statistics unavailable: %s", exc.__class__.__name__)
        finally:
            self._read_at = self.clock()

    def _refresh_running(self) -> bool:
        task = self._refreshing
        # A task of an event loop that has since stopped will never finish: it does not count.
        return task is not None and not task.done() and not task.get_loop().is_closed()
