"""Overhead of the LLM layer: events per second through each provider adapter (real SDK, loopback fake
server replaying the provider's SSE format) and through the router, and the microseconds each adds per
event over reading the same raw stream with httpx. Also: the offline token estimate against a real
tokenizer, and the local model's speed, when the `local` extra is installed. Prints figures only.

    uv run python bench/llm_overhead.py [--events 4000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.llm.router import LLMRouter  # noqa: E402
from app.llm.types import TextDelta  # noqa: E402
from app.runtime.settings import ModelRoute  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Reply, render_sse  # noqa: E402
from tests.llm.conftest import call_for, keys_for, pool_for, registry_of, router_policy, spec, standard_request  # noqa: E402


def transcript(api: str, n: int) -> tuple[str, bytes]:
    """(request path, SSE body) of a stream of `n` text deltas in the provider's own format."""
    if api == "openai_responses":
        events = [
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": "m",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": f"tok{i} ",
                },
            )
            for i in range(n)
        ]
        events.append(
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": {
                        "id": "r",
                        "status": "completed",
                        "output": [],
                        "usage": {"input_tokens": 1, "output_tokens": n},
                    },
                },
            )
        )
        return "/v1/responses", render_sse(events)
    if api == "openai_chat":

        def chunk(d, f=None):
            return (
                None,
                {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [{"index": 0, "delta": d, "finish_reason": f}],
                },
            )

        events = [chunk({"content": f"tok{i} "}) for i in range(n)] + [chunk({}, "stop")]
        return "/v1/chat/completions", render_sse(events, "[DONE]")
    if api == "anthropic":
        events = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "m",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        events += [
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}},
            )
            for i in range(n)
        ]
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": n}},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return "/v1/messages", render_sse(events)
    events = [
        (None, {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": f"tok{i} "}]}}]})
        for i in range(n)
    ]
    events.append(
        (
            None,
            {
                "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": []}}],
                "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": n},
            },
        )
    )
    return "/v1beta/models/m:streamGenerateContent?alt=sse", render_sse(events)


ROUTES = {
    "openai_responses": ModelRoute(provider="openai", model="m"),
    "openai_chat": ModelRoute(provider="openai", model="m", api="chat"),
    "anthropic": ModelRoute(provider="anthropic", model="m"),
    "gemini": ModelRoute(provider="gemini", model="m"),
}


async def raw_read(base_url: str, path: str) -> int:
    count = 0
    async with httpx.AsyncClient(timeout=30) as client, client.stream("POST", base_url + path, json={}) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                json.loads(line[6:])
                count += 1
    return count


async def measure(api: str, n: int, runs: int) -> dict[str, float]:
    path, body = transcript(api, n)
    timings: dict[str, list[float]] = {"raw": [], "adapter": [], "router": []}
    with FakeLLMServer() as fake:
        keys = keys_for(fake.base_url)
        registry = registry_of(keys, spec("m", ROUTES[api]))
        pool = pool_for(keys, idle_timeout_s=30)
        router = LLMRouter(registry, pool, router_policy(idle_timeout_s=30, first_event_timeout_s=30))
        model = registry.get("m")
        for _ in range(runs + 1):  # the first round warms up imports and connections
            for mode in timings:
                fake.queue(Reply(prerendered=body))
                started = time.perf_counter()
                if mode == "raw":
                    seen = await raw_read(fake.base_url, path)
                elif mode == "adapter":
                    seen = sum([1 async for e in pool(ROUTES[api]).stream(call_for(model)) if isinstance(e, TextDelta)])
                else:
                    seen = sum([1 async for e in router.stream(standard_request("m")) if isinstance(e, TextDelta)])
                elapsed = time.perf_counter() - started
                assert seen >= n, (api, mode, seen)
                timings[mode].append(elapsed)
        await pool.aclose()
    best = {mode: min(values[1:]) for mode, values in timings.items()}
    return {
        "raw_eps": n / best["raw"],
        "adapter_eps": n / best["adapter"],
        "router_eps": n / best["router"],
        "adapter_us": (best["adapter"] - best["raw"]) / n * 1e6,
        "router_us": (best["router"] - best["raw"]) / n * 1e6,
        "router_vs_adapter_us": (best["router"] - best["adapter"]) / n * 1e6,
    }


def tokenizer_calibration() -> None:
    from llama_cpp import Llama

    from app.llm.registry import smollm2_path
    from app.llm.tokens import count_text

    tokenizer = Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False)
    print("offline token estimate vs SmolLM2's BPE tokenizer (estimate / real):")
    for name in (
        "app/llm/router.py",
        "migrations/0001_initial.sql",
        "README.md",
        "config_template.json",
        "settings.toml",
    ):
        text = (ROOT / name).read_text()
        real = len(tokenizer.tokenize(text.encode(), add_bos=False))
        print(f"  {name:<30} real {real:6}  estimate {count_text(text):6}  ratio {count_text(text) / real:.2f}")


async def local_speed() -> None:
    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("local", ModelRoute(provider="local"), limit=4000))
    router = LLMRouter(registry, pool_for(keys), router_policy(first_event_timeout_s=120, idle_timeout_s=60))
    request = standard_request("local", tools=(), max_output_tokens=128, temperature=0)
    [e async for e in router.stream(request)]  # load the model
    started = time.perf_counter()
    first = None
    pieces = 0
    async for event in router.stream(request):
        if isinstance(event, TextDelta):
            first = first or time.perf_counter()
            pieces += 1
    total = time.perf_counter() - started
    print(
        f"local SmolLM2-135M: first token after {(first - started) * 1000:.0f} ms, "
        f"{pieces / (time.perf_counter() - first):.0f} tokens/s, {pieces} tokens in {total:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.events} text deltas per stream, best of {args.runs} runs, loopback fake server")
    print(
        f"{'adapter':<18}{'raw ev/s':>10}{'adapter ev/s':>14}{'router ev/s':>13}"
        f"{'+µs/ev adapter':>16}{'+µs/ev router':>15}"
    )
    for api in ROUTES:
        r = asyncio.run(measure(api, args.events, args.runs))
        print(
            f"{api:<18}{r['raw_eps']:>10.0f}{r['adapter_eps']:>14.0f}{r['router_eps']:>13.0f}"
            f"{r['adapter_us']:>16.1f}{r['router_us']:>15.1f}"
        )
    if importlib.util.find_spec("llama_cpp") is not None:
        tokenizer_calibration()
        asyncio.run(local_speed())
    else:
        print("(install the `local` extra for the tokenizer calibration and local model speed)")


if __name__ == "__main__":
    main()
