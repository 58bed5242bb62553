"""The model registry: availability from credentials, the picker, defaults, substitution and fallbacks."""

from __future__ import annotations

import pytest

from app.llm.errors import ModelUnavailable
from app.llm.registry import ModelRegistry
from app.runtime.config_loader import load_settings


def registry(env: dict[str, str], local: bool = False) -> ModelRegistry:
    settings = load_settings(environ=env, include_config_file=False)

    def available(route, keys, environ):
        if route.provider == "local":
            return local
        from app.llm.registry import route_available

        return route_available(route, keys, environ)

    return ModelRegistry(settings.llm, settings.providers, environ={}, is_available=available)


def test_without_any_key_only_the_local_model_is_offered_and_is_the_default():
    models = registry({}, local=True)
    assert [m.name for m in models.picker()] == ["local-smollm2"]
    assert models.default().name == "local-smollm2"
    model, substituted = models.resolve("claude-sonnet-4.5")
    assert model.name == "local-smollm2" and substituted is True


def test_nothing_usable_is_a_clear_error():
    with pytest.raises(ModelUnavailable, match="configure a provider key or install the local extra"):
        registry({}, local=False).default()


def test_a_provider_key_makes_its_models_available_in_picker_order():
    models = registry({"ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": "sk-x"})
    assert [m.name for m in models.picker()] == ["claude-sonnet-4.5", "gpt-5", "gpt-4.1"]
    assert models.default().name == "claude-sonnet-4.5"
    entry = models.get("gpt-5").picker_entry()
    assert entry == {
        "id": 2,
        "name": "gpt-5",
        "display_name": "GPT-5",
        "provider": "OPENAI",
        "multimodal": True,
        "input_token_limit": 272000,
        "reasoning": {"supported": ["MINIMAL", "LOW", "MEDIUM", "HIGH"], "default": "MEDIUM"},
    }


def test_unknown_and_stale_names_resolve_to_the_default_and_say_so():
    models = registry({"OPENAI_API_KEY": "sk-x"})
    assert models.resolve(None) == (models.get("gpt-5"), False)
    assert models.resolve("gpt-4.1") == (models.get("gpt-4.1"), False)
    assert models.resolve("retired-model-2023")[1] is True


def test_fallback_chains_contain_only_usable_models():
    only_anthropic = registry({"ANTHROPIC_API_KEY": "sk-ant-x"})
    assert [m.name for m in only_anthropic.fallback_chain("claude-sonnet-4.5")] == ["claude-sonnet-4.5"]
    both = registry({"ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": "sk-x"})
    assert [m.name for m in both.fallback_chain("claude-sonnet-4.5")] == ["claude-sonnet-4.5", "gpt-5"]


def test_gemini_models_use_ai_studio_or_vertex_whichever_is_configured():
    vertex_only = registry({"ADJUTANT_PROVIDERS__VERTEX_PROJECT": "my-project"})
    assert [r.provider for r in vertex_only.get("gemini-2.5-pro").routes] == ["vertex"]
    both = registry({"GEMINI_API_KEY": "g", "ADJUTANT_PROVIDERS__VERTEX_PROJECT": "p"})
    assert [r.provider for r in both.get("gemini-2.5-pro").routes] == ["gemini", "vertex"]


def test_better_models_are_bigger_picker_models():
    models = registry({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"})
    better = models.better_models(models.get("claude-sonnet-4.5"))
    assert [m["name"] for m in better] == ["gpt-5", "gemini-2.5-pro", "gpt-4.1", "gemini-2.5-flash"]
    assert all(m["input_token_limit"] > 200000 for m in better)
    assert set(better[0]) == {"id", "display_name", "name", "input_token_limit"}


def test_unknown_models_are_unavailable():
    with pytest.raises(ModelUnavailable):
        registry({}).get("nope")
