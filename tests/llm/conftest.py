"""Shared pieces of the LLM tests: a registry entry pointed at a fake server, and the standard request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from app.llm.providers.base import ModelCall
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry, RegisteredModel
from app.llm.types import LLMRequest, Message, ToolSpec
from app.runtime.config_loader import load_settings
from app.runtime.settings import LLMSettings, ModelRoute, ModelSpec, ProviderKeys, RouterSettings, Settings
from tests.fakes.llm_server import FakeLLMServer


class ReadFile(BaseModel):
    path: str = Field(description="Repository-relative path")


class Grep(BaseModel):
    pattern: str


TOOLS = (ToolSpec.from_model("read_file", "Read a file", ReadFile), ToolSpec.from_model("grep", "Search files", Grep))


def standard_request(model: str = "m", **overrides: Any) -> LLMRequest:
    values: dict[str, Any] = {
        "model": model,
        "messages": (Message.system("You are terse.", cache_breakpoint=True), Message.user("hi")),
        "tools": TOOLS,
    }
    return LLMRequest(**(values | overrides))


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings(environ={}, include_config_file=False)


def router_policy(**overrides: Any) -> RouterSettings:
    values = {
        "max_retries": 2,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "max_retry_after_s": 10.0,
        "first_event_timeout_s": 5.0,
        "idle_timeout_s": 1.0,
        "call_timeout_s": 30.0,
    }
    return RouterSettings(**(values | overrides))


def keys_for(base_url: str, **overrides: Any) -> ProviderKeys:
    values = {
        "openai_api_key": "sk-test-openai",
        "openai_base_url": base_url + "/v1",
        "anthropic_api_key": "sk-ant-test",
        "anthropic_base_url": base_url,
        "gemini_api_key": "gemini-test-key",
        "gemini_base_url": base_url,
        "vertex_project": "",
        "vertex_location": "us-central1",
        "local_model_path": "",
        "local_context_tokens": 2048,
        "local_threads": 0,
        "local_enabled": True,
    }
    return ProviderKeys(**(values | overrides))


def spec(
    name: str, *routes: ModelRoute, fallbacks: tuple[str, ...] = (), limit: int = 100_000, mid: int = 1, **extra: Any
) -> ModelSpec:
    return ModelSpec(
        id=mid,
        name=name,
        display_name=name,
        input_token_limit=limit,
        output_token_limit=1024,
        routes=routes,
        fallback_models=fallbacks,
        **extra,
    )


def registry_of(keys: ProviderKeys, *models: ModelSpec, default: str | None = None) -> ModelRegistry:
    names = tuple(m.name for m in models)
    settings = LLMSettings(
        models=models, code_gen_models=names, default_model=default or names[0], router=router_policy()
    )
    return ModelRegistry(settings, keys, environ={})


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def call_for(model: RegisteredModel, request: LLMRequest | None = None) -> ModelCall:
    return ModelCall(request or standard_request(model.name), model, model.routes[0])


def pool_for(keys: ProviderKeys, **policy: Any) -> ProviderPool:
    return ProviderPool(keys, router_policy(**policy), environ={})
