"""Latency and recall of the pgvector HNSW index at 10k and 100k chunks, through the product's query path.

Embedding 100k real chunks would take over an hour on two cores, so the vectors are derived from real ones:
~1,000 chunks of installed Python packages are embedded with the local model, and every synthetic vector is
a random mix of two of them plus noise, normalised. That keeps the clustered shape of real code embeddings
(uniform random vectors would make ANN search look harder than it is). Rows are bulk-loaded into the real
`chunks` table of an embedded PostgreSQL, spread over ten repositories, and the HNSW index is rebuilt.

Queries are other mixes; the exact top 10 comes from a brute-force scan in NumPy. For each `ef_search`,
printed: Recall@10 against the exact answer and latency p50/p95, searching all repositories and one
repository (a 10% filter, which the iterative scan must handle). Prints figures; asserts nothing.

    uv run python bench/search_scale.py [--sizes 10000 100000] [--queries 200] [--base 1000]
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
from app.db.repositories import code as store  # noqa: E402
from app.db.repositories.identity import get_or_create_team  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402
from app.runtime.stack import backing_services  # noqa: E402
from app.search.chunker import chunk_file  # noqa: E402
from app.search.embeddings import local_embedder  # noqa: E402
from app.search.files import discover, load  # noqa: E402

REPOSITORIES = 10
K = 10
INDEX = "chunks_embedding_384_idx"


def base_vectors(count: int) -> np.ndarray:
    """Real embeddings of code chunks from installed packages."""
    import sanic

    texts: list[str] = []
    for source in discover(Path(sanic.__file__).parent.parent):
        loaded = load(source)
        if loaded is None or source.language != "python":
            continue
        texts.extend(c.embedding_text() for c in chunk_file(source.path, loaded.text, source.language))
        if len(texts) >= count * 3:
            break
    texts = random.Random(1).sample(texts, min(count, len(texts)))
    began = time.perf_counter()
    vectors = np.asarray(local_embedder().embed(texts), dtype=np.float32)
    print(f"embedded {len(texts)} real chunks in {time.perf_counter() - began:.0f} s")
    return vectors


def mixes(base: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    first = base[rng.integers(0, len(base), count)]
    second = base[rng.integers(0, len(base), count)]
    mixed = first + rng.uniform(0.2, 0.8, (count, 1)).astype(np.float32) * second
    mixed += rng.normal(0, 0.03, mixed.shape).astype(np.float32)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


async def load_rows(vectors: np.ndarray, team_id: int) -> list[int]:
    """Bulk-load `vectors` as chunks across REPOSITORIES repositories; returns the repository ids."""
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
                f"chunk {i}",
                hashlib.sha256(str(i).encode()).hexdigest(),
                vector,
                384,
            )
            for i, vector in enumerate(vectors)
        ]
        await raw.copy_records_to_table(
            "chunks",
            records=records,
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
        "WHERE embedding_dim = 384; ANALYZE chunks;"
    )
    return time.perf_counter() - began


async def measure(size: int, base: np.ndarray, args: argparse.Namespace, team_id: int) -> None:
    from tortoise import Tortoise

    rng = np.random.default_rng(size)
    vectors = mixes(base, size, rng)
    await Tortoise.get_connection("default").execute_script(f"DROP INDEX IF EXISTS {INDEX}; TRUNCATE chunks;")
    began = time.perf_counter()
    repo_ids = await load_rows(vectors, team_id)
    print(f"\n{size} chunks: loaded in {time.perf_counter() - began:.1f} s", end="; ")
    print(f"HNSW index built in {await rebuild_index():.1f} s")
    queries = mixes(base, args.queries, np.random.default_rng(size + 1))
    owner = np.arange(size) % REPOSITORIES
    print(f"{'ef_search':>9} {'scope':>6} {'Recall@10':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for ef_search in args.ef:
        for scope in ("all", "one"):
            recalls, latencies = [], []
            for query in queries:
                ids = repo_ids if scope == "all" else [repo_ids[0]]
                mask = np.ones(size, bool) if scope == "all" else owner == 0
                similarity = vectors @ query
                similarity[~mask] = -2
                exact = set(np.argpartition(-similarity, K)[:K].tolist())
                started = time.perf_counter()
                rows = await store.nearest(query.tolist(), ids, limit=K, ef_search=ef_search)
                latencies.append((time.perf_counter() - started) * 1000)
                found = {int(row["text"].split()[1]) for row in rows}
                recalls.append(len(found & exact) / K)
            ordered = sorted(latencies)
            print(
                f"{ef_search:>9} {scope:>6} {statistics.mean(recalls):>10.3f} "
                f"{ordered[len(ordered) // 2]:>8.1f} {ordered[int(len(ordered) * 0.95)]:>8.1f}"
            )


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    base = base_vectors(args.base)
    settings = load_settings(environ={}, include_config_file=False, overrides={("server", "data_dir"): str(data_dir)})
    with backing_services(settings, need_redis=False) as stack:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            team = await get_or_create_team("bench")
            for size in args.sizes:
                await measure(size, base, args, team.id)
        finally:
            await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base", type=int, default=1000, help="real chunks embedded as the mixing basis")
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adjutant-search-scale-") as tmp:
        Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
