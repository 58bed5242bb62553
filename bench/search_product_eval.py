"""Code-search quality through the product path: whole files of installed packages are indexed by the real
indexer (chunked by the chunker, embedded, stored in an embedded PostgreSQL) and queried through the same
`SearchService.search` that `/v1/search` and the answers retrieval call.

The set: every function or method with a docstring (CodeSearchNet's filters: at least four words in the first
sentence, a real body, no dunder or test functions). Every docstring in a package is removed before it is
indexed, so a query never meets its own words; the query is the docstring's first sentence and the relevant
results are the chunks overlapping the function's lines. Scored for full text, vectors and hybrid: MRR@10,
Recall@10 and the p50 latency. Prints figures; asserts nothing.

Two package sets, never mixed: `--set tuning` (the packages every setting was chosen on) and `--set held-out`
(reported figures; no setting was ever chosen by looking at them).

    uv run python bench/search_product_eval.py --set held-out [--queries 400]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib.util
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli.database import prepare_database  # noqa: E402
from app.db.connection import close_database, open_database  # noqa: E402
from app.db.repositories.identity import get_or_create_team  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402
from app.runtime.stack import backing_services  # noqa: E402
from app.search.service import SearchService  # noqa: E402

SETS = {
    "tuning": ["tenacity", "markdown_it", "pathspec", "click", "attr"],
    "held-out": ["jmespath", "dateutil", "croniter", "pyrate_limiter", "jira", "aiokafka"],
}
SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n\s*\n")
K = 10


@dataclass(frozen=True)
class Example:
    query: str
    path: str  # relative to the corpus root
    start_line: int  # of the function in the indexed (docstring-free) file
    end_line: int


def first_sentence(docstring: str) -> str:
    head = SENTENCE_END.split(docstring.strip(), maxsplit=1)[0]
    return " ".join(head.split())


def strip_docstrings(source: str) -> tuple[str, list[tuple[str, int, int]]]:
    """The file without any docstring, and each eligible function's (query, start, end) in the new file."""
    tree = ast.parse(source)
    removed: set[int] = set()
    functions: list[tuple[str, int, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            continue
        body = node.body
        if not (body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)):
            continue
        if not isinstance(body[0].value.value, str):
            continue
        doc = body[0]
        if len(body) > 1:  # a docstring-only body would leave nothing to parse
            removed.update(range(doc.lineno, (doc.end_lineno or doc.lineno) + 1))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node) or ""
            query = first_sentence(docstring)
            span = (node.end_lineno or node.lineno) - node.lineno
            if (
                len(query.split()) >= 4
                and span >= 4
                and len(body) >= 3
                and not node.name.startswith("__")
                and "test" not in node.name.lower()
            ):
                start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                functions.append((query, start, node.end_lineno or node.lineno))
    lines = source.splitlines()
    shift = [0] * (len(lines) + 2)  # shift[n] = removed lines before line n
    for number in range(1, len(lines) + 1):
        shift[number + 1] = shift[number] + (1 if number in removed else 0)
    kept = [line for number, line in enumerate(lines, 1) if number not in removed]
    moved = [(q, s - shift[s], e - shift[e + 1]) for q, s, e in functions]
    return "\n".join(kept) + "\n", moved


def build_corpus(packages: list[str], corpus: Path) -> list[Example]:
    examples: list[Example] = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            print(f"  (skipping {package}: not installed as a package)")
            continue
        base = Path(next(iter(spec.submodule_search_locations)))
        for file in sorted(base.rglob("*.py")):
            if "test" in file.parts or "tests" in file.parts or file.name.startswith("test_"):
                continue
            try:
                text, functions = strip_docstrings(file.read_text())
            except (SyntaxError, UnicodeDecodeError, OSError):
                continue
            relative = file.relative_to(base.parent).as_posix()
            target = corpus / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            examples.extend(Example(q, relative, s, e) for q, s, e in functions)
    counts: dict[str, int] = {}
    for example in examples:
        counts[example.query] = counts.get(example.query, 0) + 1
    # A query several functions share (overloads, copies) has no single right answer.
    return [e for e in examples if counts[e.query] == 1]


def leaked(examples: list[Example], corpus: Path) -> int:
    """Queries whose words, in order, still appear in an indexed file (a comment, a help string, a copied
    docstring): such a query is answered by string matching, not by retrieval, and would flatter the
    figures. Counted and printed, so a set that leaks is seen."""
    words = re.compile(r"\w+")
    files = [" ".join(words.findall(f.read_text().lower())) for f in corpus.rglob("*.py")]
    count = 0
    for example in examples:
        query = " ".join(words.findall(example.query.lower()))
        count += any(f" {query} " in f" {text} " for text in files)
    return count


def relevant(hit, example: Example) -> bool:
    return hit.path == example.path and hit.start_line <= example.end_line and hit.end_line >= example.start_line


async def evaluate(args: argparse.Namespace, corpus: Path, examples: list[Example], data_dir: Path) -> None:
    settings = load_settings(environ={}, include_config_file=False, overrides={("server", "data_dir"): str(data_dir)})
    with backing_services(settings, need_redis=False) as stack:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            service = SearchService(settings)
            team = await get_or_create_team("bench")
            report = await service.index_path(corpus, team_id=team.id, name="corpus")
            print(
                f"indexed {report.files} files, {report.chunks} chunks in {report.seconds:.1f} s "
                f"({report.chunks / max(report.seconds, 0.01):.1f} chunks/s)"
            )
            sample = random.Random(args.seed).sample(examples, min(args.queries, len(examples)))
            await service.search("warm up", team_id=team.id)
            print(f"\n{len(sample)} queries over {len(examples)} functions\n")
            print(f"{'method':<8} {'MRR@10':>8} {'Recall@10':>10} {'p50 ms':>8}")
            for mode in ("fts", "vector", "hybrid"):
                reciprocal, found, latencies = 0.0, 0, []
                for example in sample:
                    began = time.perf_counter()
                    hits, _ = await service.search(example.query, team_id=team.id, top_k=K, mode=mode, rerank=False)
                    latencies.append((time.perf_counter() - began) * 1000)
                    rank = next((n for n, hit in enumerate(hits, 1) if relevant(hit, example)), None)
                    if rank:
                        reciprocal += 1 / rank
                        found += 1
                latencies.sort()
                print(
                    f"{mode:<8} {reciprocal / len(sample):>8.3f} {found / len(sample):>10.3f} "
                    f"{latencies[len(latencies) // 2]:>8.1f}"
                )
        finally:
            await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="held-out", dest="package_set")
    parser.add_argument("--packages", nargs="+", help="instead of a named set")
    parser.add_argument("--queries", type=int, default=400, help="queries scored (sampled)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    packages = args.packages or SETS[args.package_set]
    with tempfile.TemporaryDirectory(prefix="adjutant-product-eval-") as tmp:
        Path(tmp).chmod(0o711)  # as root, PostgreSQL's service user must reach the data dir inside
        corpus = Path(tmp) / "corpus"
        examples = build_corpus(packages, corpus)
        print(f"{len(examples)} docstring/function pairs from {', '.join(packages)}")
        print(f"{leaked(examples, corpus)} queries still appear verbatim in the indexed code")
        started = time.perf_counter()
        asyncio.run(evaluate(args, corpus, examples, Path(tmp) / "data"))
        print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
