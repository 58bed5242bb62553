"""Real local-model checks, run as `python -m tests.llm.local_model_checks <check>` in a child process.

llama.cpp is native code: a bad build (for example a -march=native wheel on a CPU with AMX) segfaults inside
`llama_decode`, which would take the whole pytest run down with it. Each check prints one JSON object on its last
stdout line; the test in the parent asserts on it and reports a crash as an ordinary failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def answer() -> dict[str, Any]:
    from app.llm.providers.base import collect
    from app.llm.router import LLMRouter
    from app.llm.types import LLMRequest, Message
    from app.runtime.settings import ModelRoute
    from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec

    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("local", ModelRoute(provider="local"), limit=2000))
    router = LLMRouter(registry, pool_for(keys), router_policy(first_event_timeout_s=120, idle_timeout_s=60))
    request = LLMRequest(
        model="local",
        messages=(Message.system("You are a helpful assistant."), Message.user("Say hello in one short sentence.")),
        max_output_tokens=24,
        temperature=0,
    )
    response = await collect(router.stream(request))
    return {
        "text": response.text,
        "finish": response.finish,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
    }


async def token_counts() -> dict[str, Any]:
    from llama_cpp import Llama

    from app.llm.registry import smollm2_path
    from app.llm.tokens import count_text

    tokenizer = Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False)
    counts = {}
    for path in ("app/llm/router.py", "README.md", "migrations/0001_initial.sql", "settings.toml"):
        text = (ROOT / path).read_text()
        counts[path] = {"real": len(tokenizer.tokenize(text.encode(), add_bos=False)), "estimate": count_text(text)}
    return counts


async def segfault() -> dict[str, Any]:
    """Dies the way a bad native build does, so the parent's crash handling is itself tested."""
    os.kill(os.getpid(), signal.SIGSEGV)
    return {}


CHECKS = {"answer": answer, "token_counts": token_counts, "segfault": segfault}

if __name__ == "__main__":
    result = asyncio.run(CHECKS[sys.argv[1]]())
    print(json.dumps(result))
