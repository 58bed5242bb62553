"""The docs/protocol.md §3 configuration payloads, built once at start-up from the settings.

Each payload is serialised to bytes ahead of time, so no request can mutate what another request sees
(§11 #26). Secrets never enter these payloads: they are assembled from non-secret sections only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.api import paths
from app.llm.registry import ModelRegistry
from app.runtime.settings import Settings

OPERATING_SYSTEMS = ("darwin", "linux", "win32")
ARCHITECTURES = ("x64", "arm64")


def websocket_base(http_base: str) -> str:
    return (
        "wss://" + http_base[len("https://") :]
        if http_base.startswith("https://")
        else "ws://" + http_base[len("http://") :]
    )


def essential_payload(settings: Settings, registry: ModelRegistry, os_name: str, arch: str) -> dict[str, Any]:
    base = settings.server.base_url()
    ws = websocket_base(base)
    essential = settings.client_config.essential
    binary = settings.client_config.binary
    target = binary.targets.get(f"{os_name}-{arch}")
    return {
        "HOST_AND_TIMEOUT": {"HOST": base, "TIMEOUT": essential.TIMEOUT},
        "DD_HOST_WS": ws,
        "DD_HOST_WS_NON_GATEWAY": ws,
        "QUERY_SOLVER_ENDPOINT_NON_GATEWAY": paths.CHAT_SOCKET,
        "QUERY_SOLVER_ENDPOINT": paths.CHAT_SOCKET,
        "REVIEW_SOLVER_ENDPOINT": paths.REVIEW_SOLVER,
        "REVIEW_POST_PROCESS_SOLVER_ENDPOINT": paths.REVIEW_POST_PROCESS_SOLVER,
        "BROWSER_HOST": essential.BROWSER_HOST or base,
        "POLLING_MAX_ATTEMPTS": essential.POLLING_MAX_ATTEMPTS,
        "ENABLE_EXTENSION_EMBEDDINGS": essential.ENABLE_EXTENSION_EMBEDDINGS,
        "LLM_MODELS": [model.picker_entry() for model in registry.picker()],
        "BINARY": {
            **(target.model_dump(mode="json") if target else {}),
            "port_range": list(binary.port_range),
            "max_init_retry": binary.max_init_retry,
            "max_alive_retry": binary.max_alive_retry,
        },
        "NUMBER_OF_WORKERS": settings.server.workers,
    }


def vscode_payload(settings: Settings) -> dict[str, Any]:
    payload = settings.client_config.vscode.model_dump(mode="json", exclude_none=True)
    if not payload["RUDDER"]["DATA_PLANE_URL"]:
        payload["RUDDER"]["DATA_PLANE_URL"] = settings.server.base_url() + paths.TELEMETRY_SINK
    return payload


def local_binary_payload(settings: Settings) -> dict[str, Any]:
    payload = settings.client_config.local_binary.model_dump(mode="json")
    payload["DEPUTY_DEV"] = {**payload["DEPUTY_DEV"], "HOST": settings.server.base_url()}
    payload["NUMBER_OF_WORKERS"] = settings.server.workers
    return payload


@dataclass(frozen=True)
class ClientConfigSnapshots:
    """Serialised payloads keyed by (consumer, os, arch); essential configs vary by os/arch only."""

    essential: dict[tuple[str, str], bytes]
    vscode: bytes
    local_binary: bytes

    @classmethod
    def build(cls, settings: Settings, registry: ModelRegistry) -> ClientConfigSnapshots:
        return cls(
            essential={
                (os_name, arch): _dump(essential_payload(settings, registry, os_name, arch))
                for os_name in OPERATING_SYSTEMS
                for arch in ARCHITECTURES
            },
            vscode=_dump(vscode_payload(settings)),
            local_binary=_dump(local_binary_payload(settings)),
        )


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
