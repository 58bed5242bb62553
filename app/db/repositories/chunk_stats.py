"""What PostgreSQL's planner statistics know about the chunks table: how common each full-text lexeme is,
and keeping those statistics fresh after a large index write."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import Tortoise

# Autovacuum's own default rule (autovacuum_analyze_scale_factor): statistics are worth refreshing once a
# tenth of the rows changed.
ANALYZE_SHARE = 0.1


@dataclass(frozen=True)
class LexemeShares:
    """The most common lexemes of `chunks.tsv` as the last ANALYZE sampled them: each one's share of the
    rows (0..1; a lexeme not listed is rarer than all listed), and the table's estimated rows then."""

    rows: float
    shares: dict[str, float]


async def lexeme_shares() -> LexemeShares:
    """The statistics as they stand; no shares if the table was never analyzed."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        # most_common_elems is anyarray: through text to get text[] (a direct cast is refused).
        "SELECT c.reltuples, s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS shares "
        "FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'chunks' "
        "AND s.attname = 'tsv' WHERE c.oid = 'chunks'::regclass"
    )
    if not rows or rows[0]["lexemes"] is None:
        return LexemeShares(0.0, {})
    row = rows[0]
    # most_common_elem_freqs ends with three summary figures (min, max, null share) past the lexemes.
    shares = {lexeme: float(share) for lexeme, share in zip(row["lexemes"], row["shares"], strict=False)}
    return LexemeShares(max(float(row["reltuples"]), 0.0), shares)


async def analyze_after_write(written: int) -> bool:
    """ANALYZE the chunks table if `written` rows are a large share of it (or it was never analyzed): the
    full-text query leaves out terms the statistics call common, and autovacuum may get to a big new index
    only minutes later. True if it ran."""
    if written <= 0:
        return False
    connection = Tortoise.get_connection("default")
    rows = await connection.execute_query_dict(
        "SELECT c.reltuples, s.last_analyze, s.last_autoanalyze FROM pg_class c "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'chunks'::regclass"
    )
    never = not rows or (rows[0]["last_analyze"] is None and rows[0]["last_autoanalyze"] is None)
    if not never and written < ANALYZE_SHARE * max(float(rows[0]["reltuples"]), 0.0):
        return False
    await connection.execute_script("ANALYZE chunks")
    return True
