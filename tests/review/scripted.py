"""A review model played by the scripted provider through the real router, and script-building helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.llm.router import LLMRouter
from app.review.conversation import REPORT_TOOL, ReviewModel
from app.runtime.settings import ModelRoute
from tests.api.scripted_models import Script
from tests.llm.conftest import keys_for, pool_for, registry_of, router_policy, spec


def review_model(directory: Path, *, name: str = "reviewer", timeout_s: float = 30) -> tuple[ReviewModel, Script]:
    script = Script(directory, name)
    route = ModelRoute(provider="scripted", script_path=str(script.path), record_path=str(script.record))
    keys = keys_for("http://unused")
    registry = registry_of(keys, spec(name, route))
    router = LLMRouter(registry, pool_for(keys), router_policy(max_retries=0))
    return ReviewModel(router, name, timeout_s=timeout_s, max_output_tokens=1000), script


def finding(path: str, line: int, title: str, **fields: Any) -> dict[str, Any]:
    """A report entry as a model would send it."""
    return {
        "path": path,
        "line": line,
        "severity": "high",
        "category": "correctness",
        "confidence": 0.9,
        "title": title,
        "explanation": f"{title}: this breaks callers.",
        "evidence": "return cache.get(key)",
        **fields,
    }


def report(*entries: dict[str, Any], call_id: str = "report_1") -> dict[str, Any]:
    return {"tool_calls": [{"name": REPORT_TOOL, "id": call_id, "input": {"findings": list(entries)}}]}


def call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "id": call_id, "input": arguments}
