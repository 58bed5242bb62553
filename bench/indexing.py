"""Indexing throughput against the machine's embedding ceiling, and re-indexing an unchanged repository.

1. Ceiling: the local ONNX model alone embeds the same real chunk texts (chunks of an installed package) at
   every batch size of --batches and intra-op thread count of --threads; printed in chunks/s, best of
   --rounds interleaved rounds (other processes share the CPU, so the best round is the model's own rate).
2. Indexer: that package's source is indexed by the real indexer (`SearchService.index_path`, configured
   settings) into an embedded PostgreSQL, as a team of its own so no embedding is reused; printed in
   chunks/s and as a share of the best ceiling measured in step 1.
3. Unchanged: the same directory indexed again; printed wall time and embedding calls (must be 0).

Prints figures; asserts nothing.

    uv run python bench/indexing.py [--package click] [--chunks 96] [--batches 1 2 4 8 16 32] [--threads 1 2]
    uv run python bench/indexing.py --skip-ceiling      # steps 2 and 3 only
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli.database import prepare_database  # noqa: E402
from app.db.connection import close_database, open_database  # noqa: E402
from app.db.repositories.identity import get_or_create_team  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402
from app.runtime.stack import backing_services  # noqa: E402
from app.search.chunker import chunk_file  # noqa: E402
from app.search.embeddings import LocalEmbedder  # noqa: E402
from app.search.files import discover, load  # noqa: E402
from app.search.service import SearchService  # noqa: E402


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed")
    return Path(spec.origin).parent


def chunk_texts(root: Path, count: int) -> list[str]:
    texts: list[str] = []
    for source in discover(root):
        loaded = load(source)
        if loaded is not None:
            texts.extend(c.embedding_text() for c in chunk_file(source.path, loaded.text, source.language))
    # Every k-th chunk, so the sample spans short and long ones as the package has them.
    step = max(len(texts) // count, 1)
    return texts[::step][:count]


def ceiling(texts: list[str], batches: list[int], threads: list[int], rounds: int) -> float:
    models = {t: LocalEmbedder(threads=t) for t in threads}
    for model in models.values():
        model.embed(texts[:8])  # warm-up: ONNX Runtime plans its kernels on the first runs
    best: dict[tuple[int, int], float] = {}
    per_cpu: dict[tuple[int, int], float] = {}
    for _ in range(rounds):
        for t, model in models.items():
            for b in batches:
                model.batch_size = b
                began, cpu = time.perf_counter(), time.process_time()
                model.embed(texts)
                rate = len(texts) / (time.perf_counter() - began)
                efficiency = len(texts) / (time.process_time() - cpu)
                best[(t, b)] = max(best.get((t, b), 0.0), rate)
                per_cpu[(t, b)] = max(per_cpu.get((t, b), 0.0), efficiency)
                print(f"  threads={t} batch={b}: {rate:.1f} chunks/s, {efficiency:.1f} per CPU-s", flush=True)
    # Wall rate is what indexing gets; chunks per CPU-second does not depend on what else runs on the machine.
    for title, table in (("chunks/s (wall)", best), ("chunks per CPU-second", per_cpu)):
        print(f"\nembedding ceiling, {len(texts)} real chunks, {title}, best of {rounds} rounds")
        print(f"{'threads':>7} " + " ".join(f"{'batch ' + str(b):>9}" for b in batches))
        for t in threads:
            print(f"{t:>7} " + " ".join(f"{table[(t, b)]:>9.1f}" for b in batches))
    (t, b), rate = max(best.items(), key=lambda item: item[1])
    print(f"best: {rate:.1f} chunks/s at threads={t}, batch={b}")
    return rate


class CountingEmbedder:
    """The service's embedder, counting the texts it is asked for."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)  # type: ignore[attr-defined]


async def index_runs(root: Path, settings: object, best: float | None) -> None:
    service = SearchService(settings)  # type: ignore[arg-type]
    counting = CountingEmbedder(service.embedder())
    service._embedder = counting  # type: ignore[assignment]
    texts = await asyncio.to_thread(chunk_texts, root, 10**9)
    began = time.perf_counter()
    await asyncio.to_thread(counting.inner.embed, texts)  # type: ignore[attr-defined]
    alone = len(texts) / (time.perf_counter() - began)
    print(f"\nthe configured model alone on the same {len(texts)} chunks: {alone:.1f} chunks/s")
    team = await get_or_create_team(f"bench-{time.time_ns()}")
    report = await service.index_path(root, team_id=team.id, name="bench")
    rate = report.embedded / report.seconds
    share = f" and {rate / best:.0%} of the best ceiling measured above" if best else ""
    print(
        f"indexer: {report.files} files, {report.chunks} chunks ({report.embedded} embedded) in "
        f"{report.seconds:.1f} s: {rate:.1f} chunks/s, {rate / alone:.0%} of the model alone{share}"
    )
    counting.calls = counting.texts = 0
    began = time.perf_counter()
    again = await service.index_path(root, team_id=team.id, name="bench")
    wall = time.perf_counter() - began
    print(
        f"unchanged re-index: {wall * 1000:.0f} ms wall, {again.changed} files changed, "
        f"{counting.calls} embedding calls"
    )


async def run(args: argparse.Namespace, data_dir: Path, best: float | None) -> None:
    settings = load_settings(environ={}, include_config_file=False, overrides={("server", "data_dir"): str(data_dir)})
    source = data_dir / "src" / args.package
    shutil.copytree(package_dir(args.package), source, ignore=shutil.ignore_patterns("__pycache__"))
    with backing_services(settings, need_redis=False) as stack:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            await index_runs(source, settings, best)
        finally:
            await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="click")
    parser.add_argument("--chunks", type=int, default=96)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--skip-index", action="store_true")
    args = parser.parse_args()
    best = None
    if not args.skip_ceiling:
        best = ceiling(chunk_texts(package_dir(args.package), args.chunks), args.batches, args.threads, args.rounds)
    if not args.skip_index:
        with tempfile.TemporaryDirectory(prefix="adjutant-indexing-") as tmp:
            Path(tmp).chmod(0o711)  # ours; as root, PostgreSQL's service user must reach the data dir inside
            asyncio.run(run(args, Path(tmp), best))


if __name__ == "__main__":
    main()
