"""What the symbol graph costs at indexing, and what it answers, on a real package (click by default).

The package's source is copied into a temporary directory and indexed by the real indexer into an embedded
PostgreSQL, alternately with the graph switched off and on, each run as a team of its own (so no embedding
is shared between runs). Printed: the median wall times and their difference, the graph's own extraction
CPU time over every file, the rows written, the share of calls resolved to a definition in the package,
and the latency of callers/callees queries. Prints figures; asserts nothing.

    uv run python bench/graph_index.py [--package click] [--embedder local|constant] [--repeat 3]

`--embedder constant` replaces the model with a constant vector, so the overhead is seen against the rest
of indexing (discovery, chunking, database writes) instead of against embedding, which dominates.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli.database import prepare_database  # noqa: E402
from app.db.connection import close_database, open_database  # noqa: E402
from app.db.models import CodeReference, CodeSymbol  # noqa: E402
from app.db.repositories.identity import get_or_create_team  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402
from app.runtime.stack import backing_services  # noqa: E402
from app.search.embeddings import Embedder, local_embedder  # noqa: E402
from app.search.files import discover, load  # noqa: E402
from app.search.graph import queries  # noqa: E402
from app.search.graph.store import file_graph_rows  # noqa: E402
from app.search.indexer import index_repository  # noqa: E402


class ConstantEmbedder(Embedder):
    model = "constant"
    dimension = 384

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


def extraction_seconds(root: Path) -> tuple[float, int]:
    files = [f for f in (load(s) for s in discover(root)) if f is not None]
    began = time.perf_counter()
    for f in files:
        file_graph_rows(f.source.path, f.text, f.source.language)
    return time.perf_counter() - began, len(files)


async def index(root: Path, embedder: Embedder, team: str, *, graph: bool) -> tuple[int, float]:
    owner = await get_or_create_team(team)
    began = time.perf_counter()
    arguments = {
        "team_id": owner.id,
        "name": root.name,
        "source": str(root),
        "source_kind": "local",
        "embedder": embedder,
        "max_chunk_chars": 1800,
        "max_files": 50_000,
        "max_bytes": 256 * 2**20,
    }
    if graph:
        report = await index_repository(root, **arguments)
    else:
        with mock.patch("app.search.indexer.file_graph_rows", return_value=None):
            report = await index_repository(root, **arguments)
    return report.repository_id, time.perf_counter() - began


async def latency_ms(call, repetitions: int = 20) -> float:
    samples = []
    for _ in range(repetitions):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def run(args: argparse.Namespace, root: Path, data_dir: Path) -> None:
    settings = load_settings(environ={}, include_config_file=False, overrides={("server", "data_dir"): str(data_dir)})
    embedder: Embedder = ConstantEmbedder() if args.embedder == "constant" else local_embedder()
    embedder.embed(["warm up"])
    with backing_services(settings, need_redis=False) as stack:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            plain, graphed = [], []
            repo_id = 0
            # The first index of a process is slower (caches, pools): which variant goes first alternates.
            for run_number in range(args.repeat):
                for graph in (False, True) if run_number % 2 == 0 else (True, False):
                    repo, seconds = await index(root, embedder, f"{graph}-{run_number}", graph=graph)
                    (graphed if graph else plain).append(seconds)
                    repo_id = repo if graph else repo_id
            without, with_graph = statistics.median(plain), statistics.median(graphed)
            extraction, files = extraction_seconds(root)
            symbols = await CodeSymbol.filter(repository_id=repo_id).count()
            calls = await CodeReference.filter(repository_id=repo_id, kind="call")
            sites = await queries.resolve(repo_id, calls)
            resolved = sum(1 for s in sites if s.resolved is not None)
            others = await CodeReference.filter(repository_id=repo_id).exclude(kind="call").count()
            print(f"{args.package}: {files} files, embedder {embedder.model}")
            print(f"median of {args.repeat} runs each")
            print(f"index without graph   {without:8.2f} s")
            print(
                f"index with graph      {with_graph:8.2f} s   (+{with_graph - without:.2f} s, "
                f"{(with_graph - without) / without * 100:+.1f} %)"
            )
            print(f"graph extraction CPU  {extraction:8.2f} s   ({extraction / files * 1000:.1f} ms per file)")
            print(f"rows: {symbols} definitions, {len(calls)} calls, {others} imports and uses")
            print(
                f"calls resolved to a definition in the package: {resolved}/{len(calls)} "
                f"({resolved / max(len(calls), 1) * 100:.0f} %; the rest are builtins, methods on values, "
                "other packages)"
            )
            for question, symbol in args.symbols:
                answer = await getattr(queries, question)(repo_id, symbol)
                found = sum(1 for s in answer.sites if s.resolved is not None)
                ms = await latency_ms(lambda q=question, s=symbol: getattr(queries, q)(repo_id, s))
                print(
                    f"{question:<8} {symbol:<28} {found:>4} resolved {len(answer.sites) - found:>4} unresolved "
                    f"  p50 {ms:6.1f} ms"
                )
        finally:
            await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="click")
    parser.add_argument("--embedder", choices=("local", "constant"), default="local")
    parser.add_argument("--repeat", type=int, default=3, help="index runs with and without the graph")
    args = parser.parse_args()
    args.symbols = (
        [
            ("callers", "click.utils.echo"),
            ("callers", "Context.invoke"),
            ("callees", "Command.main"),
            ("callers", "click.decorators._param_memo"),
        ]
        if args.package == "click"
        else []
    )
    spec = importlib.util.find_spec(args.package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{args.package} is not an installed package")
    with tempfile.TemporaryDirectory(prefix="adjutant-graph-bench-") as tmp:
        Path(tmp).chmod(0o711)  # as root, PostgreSQL's service user must reach the data dir inside
        root = Path(tmp) / "src"  # indexed from above the package, so paths (and names) start with it
        shutil.copytree(
            next(iter(spec.submodule_search_locations)),
            root / args.package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        asyncio.run(run(args, root, Path(tmp) / "data"))


if __name__ == "__main__":
    main()
