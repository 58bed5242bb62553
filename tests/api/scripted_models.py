"""Deployments whose models are scripted: `scripted` (chats, inline edits) and `helper` (summaries, rewrites,
web answers), each with its own script file and a request log to assert on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import make_settings


class Script:
    """One scripted model's script and what it was asked."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.json"
        self.record = directory / f"{name}.record.jsonl"
        self.play({"text": "unused"})

    def play(self, *responses: dict[str, Any], mode: str = "sequence") -> None:
        """Replace the script, restart its position and clear the log."""
        self.path.write_text(json.dumps({"mode": mode, "responses": list(responses)}))
        Path(str(self.path) + ".cursor").unlink(missing_ok=True)
        self.record.write_text("")

    def calls(self) -> list[dict[str, Any]]:
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        return [entry for entry in map(json.loads, lines) if entry["event"] == "request"]


def model(model_id: int, name: str, script: Script) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": name,
        "display_name": name.title(),
        "input_token_limit": 100_000,
        "output_token_limit": 4_000,
        "routes": [{"provider": "scripted", "script_path": str(script.path), "record_path": str(script.record)}],
    }


def scripted_settings(database_url: str, redis_url: str, directory: Path, **overrides: Any):
    """Settings with both scripted models; returns (settings, chat script, helper script)."""
    chat, helper = Script(directory, "scripted"), Script(directory, "helper")
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "llm.models": [model(1, "scripted", chat), model(2, "helper", helper)],
            "llm.code_gen_models": ["scripted"],
            "llm.default_model": "scripted",
            "llm.router.max_retries": 0,
            "llm.router.max_retry_after_s": 1.0,
            "chat.summary_model": "helper",
            **overrides,
        },
    )
    return settings, chat, helper


def unusable_models_settings(database_url: str, redis_url: str, **overrides: Any):
    """Settings where no model has a provider (no key): every model-backed feature must degrade, not fail."""
    spec = {
        "id": 1,
        "name": "keyless",
        "display_name": "Keyless",
        "input_token_limit": 100_000,
        "output_token_limit": 4_000,
        "routes": [{"provider": "anthropic", "model": "claude-test"}],
    }
    return make_settings(
        database_url,
        redis_url,
        **{
            "llm.models": [spec],
            "llm.code_gen_models": ["keyless"],
            "llm.default_model": "keyless",
            "providers.anthropic_api_key": "",
            **overrides,
        },
    )
