"""`adjutant search` loads only what its mode needs: a full-text search never loads the embedding model's
stack (numpy, ONNX Runtime), no search loads the service, Redis, the indexer, the chunker's grammars or the
credential store, and piped output is plain numbered lines. For hybrid search the model is preloaded on a
thread, and loaded once however many ask."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from app.search.embeddings import _load_local_embedder, local_embedder, preload_local_embedder
from tests.cli.imports import run_cli

SERVICE = ("sanic", "redis", "app.api", "app.jobs")
INDEXING = ("app.search.indexer", "app.search.chunker", "tree_sitter", "app.runtime.secret_box", "cryptography")
NEVER_FOR_SEARCH = (*SERVICE, *INDEXING)
MODEL_STACK = ("numpy", "onnxruntime", "tokenizers")


@pytest.fixture
def indexed(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a command line on this test's database, with a one-file repository indexed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADJUTANT_")}
    env.update(DATABASE_URL=database_url, ADJUTANT_LOGGING__FORMAT="json", XDG_DATA_HOME=str(tmp_path / "xdg"))
    env.pop("REDIS_URL", None)  # search must not need it
    source = tmp_path / "tiny"
    source.mkdir()
    (source / "greeting.py").write_text('def greet(name):\n    """Say hello."""\n    return f"hello {name}"\n')
    done = run_cli("index", str(source), "--team", "cli", env=env)
    assert done.code == 0, done.stderr
    return env


def test_a_full_text_search_loads_neither_the_model_nor_the_indexer(indexed):
    run = run_cli("search", "greet", "--mode", "fts", "--team", "cli", "--json", env=indexed)
    assert run.code == 0, run.stderr
    hits = json.loads(run.output)
    assert [(h["path"], h["start_line"]) for h in hits] == [("greeting.py", 1)]
    assert run.loaded(*NEVER_FOR_SEARCH, *MODEL_STACK, "pygments") == []


def test_a_hybrid_search_loads_the_model_but_not_the_indexer_and_prints_plain_lines_when_piped(indexed):
    run = run_cli("search", "say hello", "--team", "cli", env=indexed)
    assert run.code == 0, run.stderr
    lines = run.output.splitlines()
    assert lines[0].startswith("1. tiny:greeting.py:1-3") and "'vector': 1" in lines[0]
    assert lines[1:4] == ["  1 def greet(name):", '  2     """Say hello."""', '  3     return f"hello {name}"']
    assert "\x1b[" not in run.output
    assert run.loaded(*MODEL_STACK) == list(MODEL_STACK)
    assert run.loaded(*NEVER_FOR_SEARCH, "pygments") == []


def test_an_unknown_team_is_one_line_and_exit_2_even_while_the_model_preloads(indexed):
    run = run_cli("search", "greet", "--team", "nobody", env=indexed)
    assert run.code == 2
    assert "no team named 'nobody'" in run.stderr and "Traceback" not in run.stderr


def test_the_preloaded_model_is_the_one_every_caller_gets_and_it_loads_once():
    args = (1, 3)  # a configuration no other test loads, so this test sees its own load
    misses = _load_local_embedder.cache_info().misses
    preload = preload_local_embedder(*args)
    got: list[object] = []
    callers = [threading.Thread(target=lambda: got.append(local_embedder(*args))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for thread in (preload, *callers):
        thread.join(60)
    assert len(got) == 3 and all(embedder is got[0] for embedder in got)
    assert _load_local_embedder.cache_info().misses == misses + 1
    assert len(got[0].embed(["say hello"])[0]) == 384
