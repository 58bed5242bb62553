"""The embedded local model (llama-cpp-python, optional extra `local`) and its tool-call text protocol."""

from __future__ import annotations

import importlib.util

import pytest

from app.llm.providers.base import collect
from app.llm.providers.local import ToolCallParser
from app.llm.registry import smollm2_path
from app.llm.tokens import count_text
from app.llm.types import LLMRequest, MalformedToolCallEvent, Message, TextDelta, ToolCallEnd
from app.runtime.settings import ModelRoute
from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec

needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or smollm2_path() is None,
    reason="the `local` extra is not installed (uv sync --extra local)",
)


def feed(parser: ToolCallParser, *chunks: str) -> list:
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.finish()


def test_tool_calls_are_found_even_when_tags_are_split_across_chunks():
    events = feed(
        ToolCallParser(),
        "Let me check. <tool",
        '_call>{"name": "read_file", ',
        '"arguments": {"path": "a.py"}}</tool_',
        "call> trailing",
    )
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Let me check.  trailing"
    (end,) = [e for e in events if isinstance(e, ToolCallEnd)]
    assert (end.name, end.arguments) == ("read_file", {"path": "a.py"})


def test_text_that_merely_looks_like_a_tag_is_not_swallowed():
    events = feed(ToolCallParser(), "a < b and <tool", "box> stays")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "a < b and <toolbox> stays"


def test_an_unterminated_or_broken_call_is_reported_malformed():
    events = feed(ToolCallParser(), '<tool_call>{"name": "grep", "arguments": {"pattern": ')
    assert any(isinstance(e, MalformedToolCallEvent) for e in events)


@needs_local
async def test_the_real_local_model_answers():
    route = ModelRoute(provider="local")
    keys = keys_for("http://unused")
    registry = registry_of(keys, spec("local", route, limit=2000))
    from app.llm.router import LLMRouter

    router = LLMRouter(registry, pool_for(keys), router_policy(first_event_timeout_s=120, idle_timeout_s=60))
    request = LLMRequest(
        model="local",
        messages=(Message.system("You are a helpful assistant."), Message.user("Say hello in one short sentence.")),
        max_output_tokens=24,
        temperature=0,
    )
    response = await collect(router.stream(request))
    assert response.text.strip(), "the model produced no text"
    assert response.finish in ("stop", "max_tokens")
    assert response.usage.input_tokens > 5 and 0 < response.usage.output_tokens <= 24


@needs_local
def test_the_offline_estimate_is_conservative_against_a_real_tokenizer(project_root):
    from llama_cpp import Llama

    tokenizer = Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False)
    for path in ("app/llm/router.py", "README.md", "migrations/0001_initial.sql", "settings.toml"):
        text = (project_root / path).read_text()
        real = len(tokenizer.tokenize(text.encode(), add_bos=False))
        estimate = count_text(text)
        assert real <= estimate <= real * 1.5, (path, real, estimate)
