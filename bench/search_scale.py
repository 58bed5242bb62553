"""Latency and recall of the pgvector HNSW index at 10k and 100k chunks, through the product's query path.

Embedding 100k real chunks would take over an hour on two cores, so the vectors are derived from real ones:
~1,000 chunks of installed Python packages are embedded with the local model, and every synthetic vector is
a random mix of two of them plus noise, normalised. That keeps the clustered shape of real code embeddings
(uniform random vectors would make ANN search look harder than it is). Rows are bulk-loaded into the real
`chunks` table of an embedded PostgreSQL, spread over ten repositories, and the HNSW index is rebuilt.

Each row's full-text input is the search text of the real chunk its vector is mostly made of.

Queries are other mixes; the exact top 10 comes from a brute-force scan in NumPy. For each `ef_search`,
printed: Recall@10 against the exact answer, latency p50/p95 of the vector candidates alone and of the
hybrid candidate statement (full text on four words of the query's chunk, and vectors) with every word
matched and, as the product runs it, without the words more than `search.fts_max_term_share` of the chunks
contain (PostgreSQL's statistics), searching all repositories and one repository (a 10% filter, which the
iterative scan must handle), and how many chunks the full-text half ranks (p50/p95). Then, through
`SearchService.search` (what /v1/search calls): latency with the query's embedding, and database round
trips per search counted by a TCP relay in front of PostgreSQL. Prints figures; asserts nothing.

    uv run python bench/search_scale.py [--sizes 1400 10000 100000] [--queries 200] [--base 1000] [--ef 40 100]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli.database import prepare_database  # noqa: E402
from app.db.connection import close_database, open_database  # noqa: E402
from app.db.models import CodeFile, Repository  # noqa: E402
from app.db.repositories import chunk_stats  # noqa: E402
from app.db.repositories import code as store  # noqa: E402
from app.db.repositories.identity import get_or_create_team  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402
from app.runtime.stack import backing_services  # noqa: E402
from app.search.chunker import chunk_file  # noqa: E402
from app.search.embeddings import local_embedder  # noqa: E402
from app.search.files import discover, load  # noqa: E402
from app.search.retrieval import match_tsquery, tsquery  # noqa: E402
from app.search.service import SearchService  # noqa: E402

REPOSITORIES = 10
K = 10
INDEX = "chunks_embedding_384_idx"


def base_chunks(count: int) -> tuple[np.ndarray, list[str]]:
    """Real embeddings of code chunks from installed packages, and each chunk's full-text search text."""
    import sanic

    chunks = []
    for source in discover(Path(sanic.__file__).parent.parent):
        loaded = load(source)
        if loaded is None or source.language != "python":
            continue
        chunks.extend(chunk_file(source.path, loaded.text, source.language))
        if len(chunks) >= count * 3:
            break
    chunks = random.Random(1).sample(chunks, min(count, len(chunks)))
    began = time.perf_counter()
    vectors = np.asarray(local_embedder().embed([c.embedding_text() for c in chunks]), dtype=np.float32)
    print(f"embedded {len(chunks)} real chunks in {time.perf_counter() - began:.0f} s")
    return vectors, [c.search_text() for c in chunks]


def mixes_of(base: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` mixes and, for each, the base chunk it is mostly made of (its words become the row's text)."""
    first_index = rng.integers(0, len(base), count)
    return mixes(base, count, rng, first_index), first_index


def mixes(base: np.ndarray, count: int, rng: np.random.Generator, first_index: np.ndarray | None = None) -> np.ndarray:
    first = base[first_index if first_index is not None else rng.integers(0, len(base), count)]
    second = base[rng.integers(0, len(base), count)]
    mixed = first + rng.uniform(0.2, 0.8, (count, 1)).astype(np.float32) * second
    mixed += rng.normal(0, 0.03, mixed.shape).astype(np.float32)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


class RoundTrips:
    """A TCP relay in front of PostgreSQL that counts round trips: each time a connection's client speaks
    again after the server answered is one (pipelined messages in between count once)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.port)
        answered = [True]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_client: bool) -> None:
            while data := await reader.read(65536):
                if from_client and answered[0]:
                    self.count += 1
                answered[0] = not from_client
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(
            pipe(client_reader, server_writer, True), pipe(server_reader, client_writer, False), return_exceptions=True
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def load_rows(vectors: np.ndarray, texts: list[str], team_id: int) -> list[int]:
    """Bulk-load `vectors` (with their search texts) as chunks across REPOSITORIES repositories; returns the
    repository ids."""
    from tortoise import Tortoise

    repo_ids, file_ids = [], []
    for i in range(REPOSITORIES):
        repo = await Repository.create(
            team_id=team_id, name=f"scale-{len(vectors)}-{i}", source="/bench", source_kind="local", status="READY"
        )
        file = await CodeFile.create(
            team_id=team_id, repository_id=repo.id, path="x.py", content_hash="0" * 64, size_bytes=1
        )
        repo_ids.append(repo.id)
        file_ids.append(file.id)
    connection = Tortoise.get_connection("default")
    async with connection.acquire_connection() as raw:
        records = [
            (
                team_id,
                repo_ids[i % REPOSITORIES],
                file_ids[i % REPOSITORIES],
                "x.py",
                1,
                1,
                "python",
                f"chunk {i}",
                text,
                hashlib.sha256(str(i).encode()).hexdigest(),
                vector,
                384,
            )
            for i, (vector, text) in enumerate(zip(vectors, texts, strict=True))
        ]
        for start in range(0, len(records), 10_000):  # each COPY well inside the statement timeout
            await raw.copy_records_to_table(
                "chunks",
                records=records[start : start + 10_000],
                columns=[
                    "team_id",
                    "repository_id",
                    "file_id",
                    "path",
                    "start_line",
                    "end_line",
                    "language",
                    "text",
                    "search_text",
                    "content_hash",
                    "embedding",
                    "embedding_dim",
                ],
            )
    return repo_ids


async def rebuild_index() -> float:
    from tortoise import Tortoise

    connection = Tortoise.get_connection("default")
    began = time.perf_counter()
    await connection.execute_script(
        f"DROP INDEX IF EXISTS {INDEX}; SET maintenance_work_mem = '1GB'; "
        f"CREATE INDEX {INDEX} ON chunks USING hnsw ((embedding::vector(384)) vector_cosine_ops) "
        "WHERE embedding_dim = 384;"
    )
    # VACUUM as autovacuum would soon after a real index: rows just copied in still lack their hint bits,
    # and the first statements to read them pay for setting those (with checksums, a WAL write per page),
    # which made the first full-text queries of a run several times slower than the same queries later.
    # ANALYZE gives the planner, and the full-text query, their statistics.
    await connection.execute_script("VACUUM (ANALYZE) chunks")
    return time.perf_counter() - began


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2], ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)]


def query_words(text: str) -> str:
    """A few words from the middle of the chunk's code, as a person searching for it might type them (its
    first words are its path's, which every chunk of the file shares)."""
    words = text.split()
    return " ".join(words[len(words) // 2 : len(words) // 2 + 4])


async def matched(match: str, ids: list[int]) -> int:
    from tortoise import Tortoise

    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n FROM chunks WHERE tsv @@ to_tsquery('simple', $1) AND repository_id = ANY($2::bigint[])",
        [match, ids],
    )
    return int(rows[0]["n"])


async def measure(
    size: int, base: np.ndarray, texts: list[str], args: argparse.Namespace, team_id: int, max_share: float
) -> list[int]:
    from tortoise import Tortoise

    rng = np.random.default_rng(size)
    vectors, first = mixes_of(base, size, rng)
    await Tortoise.get_connection("default").execute_script(f"DROP INDEX IF EXISTS {INDEX}; TRUNCATE chunks;")
    began = time.perf_counter()
    repo_ids = await load_rows(vectors, [texts[i] for i in first], team_id)
    print(f"\n{size} chunks: loaded in {time.perf_counter() - began:.1f} s", end="; ")
    print(f"HNSW index built, table vacuumed and analyzed in {await rebuild_index():.1f} s")
    queries, query_first = mixes_of(base, args.queries, np.random.default_rng(size + 1))
    words = [tsquery(query_words(texts[i])) for i in query_first]
    stats = await chunk_stats.lexeme_shares()  # the index was just analyzed
    matches = [match_tsquery(query_words(texts[i]), stats, max_share) for i in query_first]
    left_out = sum(m is not None for m in matches)
    print(f"fts_max_term_share {max_share}: common words left out of {left_out} of {len(matches)} queries")
    owner = np.arange(size) % REPOSITORIES
    print(
        f"{'ef_search':>9} {'scope':>6} {'Recall@10':>10} {'vector p50/p95 ms':>18} "
        f"{'hybrid every word':>18} {'hybrid as run':>18} {'fts rows every / run':>22}"
    )
    for ef_search in args.ef:
        for scope in ("all", "one"):
            recalls, vector_ms, hybrid_ms, pruned_ms, fts_rows, pruned_rows = [], [], [], [], [], []
            ids = repo_ids if scope == "all" else [repo_ids[0]]
            mask = np.ones(size, bool) if scope == "all" else owner == 0
            for query, terms, match in list(zip(queries, words, matches, strict=True))[:3]:  # warm the pool
                for tsquery_match in (match, None):
                    await store.candidates(
                        terms, query.tolist(), ids, ids, limit=args.candidates, ef_search=ef_search, match=tsquery_match
                    )
            for query, terms, match in zip(queries, words, matches, strict=True):
                similarity = vectors @ query
                similarity[~mask] = -2
                exact = set(np.argpartition(-similarity, K)[:K].tolist())
                started = time.perf_counter()
                rows = await store.candidates(None, query.tolist(), ids, ids, limit=K, ef_search=ef_search)
                vector_ms.append((time.perf_counter() - started) * 1000)
                found = {int(row["text"].split()[1]) for row in rows["vector"]}
                recalls.append(len(found & exact) / K)
                # As run first: the pages it reads are a subset of what every word reads, so the order
                # can only favour the old statement.
                started = time.perf_counter()
                await store.candidates(
                    terms, query.tolist(), ids, ids, limit=args.candidates, ef_search=ef_search, match=match
                )
                pruned_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await store.candidates(terms, query.tolist(), ids, ids, limit=args.candidates, ef_search=ef_search)
                hybrid_ms.append((time.perf_counter() - started) * 1000)
                if terms is not None:
                    fts_rows.append(await matched(terms, ids))
                    pruned_rows.append(await matched(match or terms, ids))
            v50, v95 = percentiles(vector_ms)
            h50, h95 = percentiles(hybrid_ms)
            p50, p95 = percentiles(pruned_ms)
            r50, r95 = percentiles(fts_rows or [0])
            q50, q95 = percentiles(pruned_rows or [0])
            print(
                f"{ef_search:>9} {scope:>6} {statistics.mean(recalls):>10.3f} "
                f"{f'{v50:.1f} / {v95:.1f}':>18} {f'{h50:.1f} / {h95:.1f}':>18} {f'{p50:.1f} / {p95:.1f}':>18} "
                f"{f'{r50:.0f}/{r95:.0f} · {q50:.0f}/{q95:.0f}':>22}"
            )
    return repo_ids


async def service_searches(
    service: SearchService, team_id: int, texts: list[str], count: int
) -> tuple[list[float], list[float]]:
    """`count` hybrid searches through the service, as /v1/search makes them: (total ms, query-embedding ms)."""
    embedder = service.embedder()
    total, embedding = [], []
    for i in range(count):
        query = query_words(texts[i % len(texts)])
        started = time.perf_counter()
        embedder.embed([query])
        embedding.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await service.search(query, team_id=team_id)
        total.append((time.perf_counter() - started) * 1000)
    return total, embedding


async def product_path(
    settings: object, database_url: str, texts: list[str], team_id: int, args: argparse.Namespace
) -> None:
    """Latency and database round trips of a whole hybrid search through SearchService."""
    service = SearchService(settings)  # type: ignore[arg-type]
    await service_searches(service, team_id, texts, 5)  # model loaded, statements prepared
    total, embedding = await service_searches(service, team_id, texts, args.queries)
    t50, t95 = percentiles(total)
    e50, e95 = percentiles(embedding)
    print(
        f"SearchService.search hybrid, ef_search={settings.search.hnsw_ef_search}: p50 {t50:.1f} ms, "  # type: ignore[attr-defined]
        f"p95 {t95:.1f} ms (of which embedding the query alone: p50 {e50:.1f}, p95 {e95:.1f} ms)"
    )
    await close_database()
    port = int(database_url.rsplit(":", 1)[1].split("/")[0])
    counter = RoundTrips(port)
    relay = await counter.start()
    await open_database(database_url.replace(f":{port}/", f":{relay}/"), settings.database)  # type: ignore[attr-defined]
    try:
        await service_searches(service, team_id, texts, 3)  # a fresh pool: connect, prepare
        counter.count = 0
        searches = 20
        await service_searches(service, team_id, texts, searches)
        print(f"database round trips per hybrid search: {counter.count / searches:.1f}")
        counter.count = 0
        for i in range(searches):  # the same search as separate statements, as it was made before
            repos = await store.list_repositories(team_id)
            ids = [r.id for r in repos]
            vector = service.embedder().embed([query_words(texts[i])])[0]
            terms = tsquery(query_words(texts[i]))
            if terms:
                await store.full_text(terms, ids, limit=args.candidates)
            await store.nearest(vector, ids, limit=args.candidates, ef_search=settings.search.hnsw_ef_search)  # type: ignore[attr-defined]
        print(f"  the same as separate full-text and vector queries: {counter.count / searches:.1f}")
    finally:
        await close_database()
        await counter.close()
        await open_database(database_url, settings.database)  # type: ignore[attr-defined]


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    base, texts = base_chunks(args.base)
    # No statement timeout: building the HNSW index over 100k rows can take longer than a request may.
    overrides = {("server", "data_dir"): str(data_dir), ("database", "statement_timeout_ms"): 0}
    settings = load_settings(environ={}, include_config_file=False, overrides=overrides)
    with backing_services(settings, need_redis=False) as stack:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            team = await get_or_create_team("bench")
            for size in args.sizes:
                await measure(size, base, texts, args, team.id, settings.search.fts_max_term_share)
                await product_path(settings, stack.database_url, texts, team.id, args)
        finally:
            await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_400, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base", type=int, default=1000, help="real chunks embedded as the mixing basis")
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--candidates", type=int, default=50, help="hits per method in a hybrid query")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adjutant-search-scale-") as tmp:
        Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
