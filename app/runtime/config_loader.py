"""Layered configuration loading with provenance.

Order (later wins): `settings.toml` (non-secret defaults, shipped) → `config.json` (optional, git-ignored,
may hold secrets) → environment (`ADJUTANT_<SECTION>__<KEY>` plus the conventional `DATABASE_URL`,
`REDIS_URL`, provider keys, `SENTRY_DSN`) → explicit overrides (CLI flags). Every leaf remembers where it
came from so a bad value is reported as one line naming the key, the source and the problem.
"""

from __future__ import annotations

import json
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import ConfigError
from app.runtime.settings import Settings, is_secret_field

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "ADJUTANT_"
# Environment variables that configure the loader itself rather than a setting.
META_ENV = {"ADJUTANT_CONFIG", "ADJUTANT_SETTINGS"}
ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("redis", "url"),
    "OPENAI_API_KEY": ("providers", "openai_api_key"),
    "ANTHROPIC_API_KEY": ("providers", "anthropic_api_key"),
    "GOOGLE_API_KEY": ("providers", "gemini_api_key"),
    "GEMINI_API_KEY": ("providers", "gemini_api_key"),  # after GOOGLE_API_KEY so it wins, as in google-genai
    "SENTRY_DSN": ("sentry", "dsn"),
}

Path_ = tuple[str | int, ...]


def default_settings_path() -> Path:
    return Path(os.environ.get("ADJUTANT_SETTINGS") or PROJECT_ROOT / "settings.toml")


def default_config_path() -> Path:
    return Path(os.environ.get("ADJUTANT_CONFIG") or PROJECT_ROOT / "config.json")


class LayeredConfig:
    """Raw values merged from several sources, with the source of every leaf."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[Path_, str] = {}

    def overlay(self, data: Mapping[str, Any], source: str, prefix: Path_ = ()) -> None:
        target = self.values
        for part in prefix:
            target = target.setdefault(part, {})
        self._merge(target, data, source, prefix)

    def _merge(self, target: dict[str, Any], data: Mapping[str, Any], source: str, prefix: Path_) -> None:
        for key, value in data.items():
            path = (*prefix, key)
            if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                self._merge(target[key], value, source, path)
            else:
                target[key] = _plain(value)
                self._mark(path, value, source)

    def _mark(self, path: Path_, value: Any, source: str) -> None:
        self.sources = {p: s for p, s in self.sources.items() if p[: len(path)] != path}
        self.sources[path] = source
        if isinstance(value, Mapping):
            for key, inner in value.items():
                self._mark((*path, key), inner, source)

    def source_of(self, path: Path_) -> str:
        for end in range(len(path), 0, -1):
            if path[:end] in self.sources:
                return self.sources[path[:end]]
        return "defaults"

    def value_at(self, path: Path_) -> Any:
        node: Any = self.values
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def load_settings(
    *,
    settings_path: Path | None = None,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, ...], Any] | None = None,
    include_config_file: bool = True,
) -> Settings:
    """Load and validate the settings; raise `ConfigError` with one readable line on any problem."""
    environ = os.environ if environ is None else environ
    settings_path = settings_path or default_settings_path()
    config_path = config_path or default_config_path()
    layers = LayeredConfig()

    layers.overlay(_read_toml(settings_path), settings_path.name)
    if include_config_file and config_path.exists():
        layers.overlay(_read_json(config_path), config_path.name)
    for name, path, value in _environment_values(environ):
        layers.overlay({path[-1]: value}, f"env {name}", path[:-1])
    for path, value in (overrides or {}).items():
        layers.overlay({path[-1]: value}, "command line", path[:-1])

    try:
        return Settings.model_validate(layers.values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, layers)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: must contain a JSON object")
    return data


def _environment_values(environ: Mapping[str, str]) -> list[tuple[str, tuple[str, ...], Any]]:
    found: list[tuple[str, tuple[str, ...], Any]] = []
    for name, path in ENV_ALIASES.items():
        if environ.get(name):
            found.append((name, path, environ[name]))
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in META_ENV:
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        path = _resolve_env_path(Settings, parts)
        if path is None:
            raise ConfigError(
                f"{name}: no such setting (expected ADJUTANT_<SECTION>__<KEY>, e.g. ADJUTANT_SERVER__PORT)"
            )
        found.append((name, path, _parse_env_value(environ[name])))
    return found


def _resolve_env_path(model: type[BaseModel], parts: list[str]) -> tuple[str, ...] | None:
    """Map upper-case env name parts onto field names, case-insensitively, walking nested sections."""
    path: list[str] = []
    current: Any = model
    for part in parts:
        if not part:
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            match = next((f for f in current.model_fields if f.lower() == part.lower()), None)
            if match is None:
                return None
            path.append(match)
            current = _section_type(current.model_fields[match].annotation)
        elif isinstance(current, tuple):  # ("dict", value type): the part is a mapping key
            path.append(part.lower())
            current = current[1] if isinstance(current[1], type) and issubclass(current[1], BaseModel) else None
        else:
            return None
    return tuple(path)


def _section_type(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return ("dict", typing.get_args(annotation)[1])
    return None


def _parse_env_value(raw: str) -> Any:
    # Structured values (lists, tables) are written as JSON; scalars are left to pydantic's coercion.
    stripped = raw.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def describe_validation_error(exc: ValidationError, layers: LayeredConfig) -> str:
    problems = []
    for error in exc.errors():
        path = tuple(error["loc"])
        key = ".".join(str(p) for p in path) or "(root)"
        source = layers.source_of(path)
        if error["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown setting (from {source})")
            continue
        if error["type"] == "missing":
            problems.append(f"{key}: missing (add it to {source if source != 'defaults' else 'settings.toml'})")
            continue
        shown = "(hidden)" if _is_secret_path(path) else json.dumps(layers.value_at(path), default=str)
        if len(shown) > 80:  # a whole section: the message names what is wrong inside it
            shown = shown[:77] + "..."
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{key} = {shown} (from {source}): {message}")
    return "invalid configuration: " + "; ".join(problems)


def _is_secret_path(path: Path_) -> bool:
    model: Any = Settings
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return False
        if is_secret_field(model, str(part)):
            return True
        model = model.model_fields[str(part)].annotation
    return False
