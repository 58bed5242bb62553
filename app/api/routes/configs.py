"""docs/protocol.md §3 configuration routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.client_config import ClientConfigSnapshots
from app.api.envelopes import success_raw
from app.api.openapi import DEFERRED, Described, documented
from app.api.validation import parse_query
from app.runtime.client_config_schema import LocalBinaryConfig, VscodeClientConfig
from app.runtime.settings import ReasoningSupport

bp = Blueprint("configs", url_prefix="/end_user/v1/configs")

OperatingSystem = Literal["darwin", "linux", "win32"]
Architecture = Literal["x64", "arm64"]


class EssentialQuery(BaseModel):
    consumer: Literal["VSCODE_EXT", "BINARY"]
    os: OperatingSystem
    arch: Architecture


class ConfigsQuery(BaseModel):
    consumer: Literal["VSCODE_EXT", "BINARY"]
    os: OperatingSystem | None = None
    arch: Architecture | None = None


class HostAndTimeout(Described):
    HOST: str
    TIMEOUT: int


class ModelPickerEntry(Described):
    """A model the client's picker offers; clients send `name` back as `llm_model`."""

    id: int
    name: str
    display_name: str
    provider: str
    multimodal: bool
    input_token_limit: int
    reasoning: ReasoningSupport | None = Field(default=None, description="Absent when the model cannot reason.")


class BinaryDownload(Described):
    """The local binary for the requested os/arch; the target fields are absent when none is configured."""

    directory: str | None = None
    file_path: str | None = None
    service_path: str | None = None
    file_checksum: str | None = None
    use_python_module: bool | None = None
    download_link: str | None = None
    port_range: list[int]
    max_init_retry: int
    max_alive_retry: int


class EssentialConfigs(Described):
    HOST_AND_TIMEOUT: HostAndTimeout
    DD_HOST_WS: str
    DD_HOST_WS_NON_GATEWAY: str
    QUERY_SOLVER_ENDPOINT_NON_GATEWAY: str
    QUERY_SOLVER_ENDPOINT: str
    REVIEW_SOLVER_ENDPOINT: str
    REVIEW_POST_PROCESS_SOLVER_ENDPOINT: str
    BROWSER_HOST: str
    POLLING_MAX_ATTEMPTS: int
    ENABLE_EXTENSION_EMBEDDINGS: bool
    LLM_MODELS: list[ModelPickerEntry]
    BINARY: BinaryDownload
    NUMBER_OF_WORKERS: int


class LocalBinaryConfigs(LocalBinaryConfig):
    """What `consumer=BINARY` answers: the local binary's whole configuration, DEPUTY_DEV.HOST filled in."""

    model_config = DEFERRED

    NUMBER_OF_WORKERS: int


# Bootstrap route: no bearer, and no version check so outdated clients can still start (docs/protocol.md §1.3).
@bp.get("/get-essential-configs", ctx_auth="none", ctx_client="no_version")
@documented(
    summary="Bootstrap configuration (docs/protocol.md §3.1)",
    query=EssentialQuery,
    response=EssentialConfigs,
    tag="configs",
)
async def essential_configs(request: Request) -> HTTPResponse:
    query = parse_query(request, EssentialQuery)
    snapshots: ClientConfigSnapshots = request.app.ctx.client_config
    return success_raw(snapshots.essential[(query.os, query.arch)])


@bp.get("/get-configs")
@documented(
    summary="Client configuration (docs/protocol.md §3.2, §3.3)",
    description="consumer=VSCODE_EXT answers the extension's settings, consumer=BINARY the local binary's.",
    query=ConfigsQuery,
    response=VscodeClientConfig | LocalBinaryConfigs,
    tag="configs",
)
async def configs(request: Request) -> HTTPResponse:
    query = parse_query(request, ConfigsQuery)
    snapshots: ClientConfigSnapshots = request.app.ctx.client_config
    return success_raw(snapshots.vscode if query.consumer == "VSCODE_EXT" else snapshots.local_binary)
