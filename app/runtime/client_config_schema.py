"""The client-configuration wire shapes: the values the docs/protocol.md §3 configuration routes serve.

They are validated as part of the settings (`Settings.client_config`), so a bad value fails at start-up,
but they are the client's shapes, not ours: their field names are the reference client's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BinaryTarget(Section):
    """Where the reference client downloads its local companion binary for one os/arch."""

    directory: str
    file_path: str
    service_path: str
    file_checksum: str
    use_python_module: bool
    download_link: str


class BinaryDistribution(Section):
    port_range: tuple[int, int]
    max_init_retry: int = Field(ge=0)
    max_alive_retry: int = Field(ge=0)
    targets: dict[str, BinaryTarget] = Field(description='Keyed "<os>-<arch>", e.g. "linux-x64".')

    @field_validator("targets")
    @classmethod
    def _target_keys(cls, value: dict[str, BinaryTarget]) -> dict[str, BinaryTarget]:
        for key in value:
            os_name, _, arch = key.partition("-")
            if os_name not in ("darwin", "linux", "win32") or arch not in ("x64", "arm64"):
                raise ValueError(f"target {key!r} must be <darwin|linux|win32>-<x64|arm64>")
        return value


class EssentialClientConfig(Section):
    TIMEOUT: int = Field(ge=1, description="HTTP timeout the extension uses, seconds.")
    BROWSER_HOST: str = Field(description="Login page base URL; empty = public_url.")
    POLLING_MAX_ATTEMPTS: int = Field(ge=1)
    ENABLE_EXTENSION_EMBEDDINGS: bool


class UploadLimits(Section):
    MAX_BYTES: int = Field(ge=1)
    SUPPORTED_MIMETYPES: tuple[str, ...]
    MAX_FILES: int | None = Field(default=None, ge=1)


class IgnoreFiles(Section):
    EXCLUDE_DIRS: tuple[str, ...]
    EXCLUDE_EXTS: tuple[str, ...]
    EXLUDE_PATTERN: tuple[str, ...]  # sic: the reference client's spelling


class Rudder(Section):
    WRITE_KEY: str
    WRITE_KEY_ERROR_TRACKING: str
    DATA_PLANE_URL: str = Field(description="Client telemetry sink; empty = this server's discarding sink.")


class VscodeClientConfig(Section):
    CHAT_PAYLOAD_MAX_SIZE: int = Field(ge=1, description="KB; larger chat payloads go through an upload.")
    CHAT_IMAGE_UPLOAD: UploadLimits
    CHAT_FILE_UPLOAD: UploadLimits
    RUDDER: Rudder
    VSCODE_IGNORE_FILES: IgnoreFiles
    VSCODE_LOGS_RETENTION_DAYS: int = Field(ge=1)


JsonObject = Annotated[dict[str, Any], Field()]


class LocalBinaryConfig(Section):
    """Settings the local binary replaces its whole configuration with (docs/protocol.md §3.3)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    DEPUTY_DEV: JsonObject = Field(description="TIMEOUT, LIMIT, LIMIT_PER_HOST, TTL_DNS_CACHE; HOST is filled in.")
    CHUNKING: JsonObject
    EMBEDDING: JsonObject
    RELEVANT_CHUNKS: JsonObject
    MCP: JsonObject
    URL_CONTENT_READER: JsonObject
    AUTOCOMPLETE_SEARCH: JsonObject
    CODE_REVIEW: JsonObject
    USE_GRACE_PERIOD_FOR_EMBEDDING: bool

    @model_validator(mode="after")
    def _weaviate_present(self) -> LocalBinaryConfig:
        extra = self.model_extra or {}
        unknown = [k for k in extra if not k.startswith("WEAVIATE_")]
        if unknown:
            raise ValueError(f"unknown keys {unknown}; only WEAVIATE_* keys may be added")
        return self


class ClientConfig(Section):
    essential: EssentialClientConfig
    vscode: VscodeClientConfig
    binary: BinaryDistribution
    local_binary: LocalBinaryConfig
