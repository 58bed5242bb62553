"""The Sanic application factory: configuration, blueprints, guards and resource lifecycle."""

from __future__ import annotations

import itertools
import logging
from functools import partial
from typing import Any

from sanic import Sanic

from app.answers.knowledge_source import knowledge_sources
from app.answers.setup import make_answers
from app.answers.tool import search_sources_tool
from app.api import errors, guards, nodelay, openapi_document, validation
from app.api.client_config import ClientConfigSnapshots
from app.api.jobs_runtime import start_jobs
from app.api.routes import (
    answers,
    auth,
    chat_ws,
    configs,
    crawls,
    extension,
    feedback,
    graph,
    health,
    history,
    ide_review,
    ide_review_ws,
    inline_edit,
    integrations,
    jobs,
    knowledge,
    llm,
    local_binary,
    out_of_scope,
    query_solver_sse,
    release_notes,
    reviews,
    rewrites,
    search,
    telemetry,
    uploads,
    urls,
    webhooks,
    websearch,
)
from app.api.webhooks.intake import WebhookIntake
from app.api.webhooks.replay import ReplayGuard
from app.auth.login import LoginBindings
from app.auth.token_cache import RevocationFeed, TokenCache
from app.auth.tokens import TokenService
from app.chat.inline_edit import InlineEdits
from app.chat.rewrites import Rewrites
from app.chat.running import RunningSteps
from app.chat.solver import QuerySolver
from app.chat.step_stream import LiveHub, StepBuffer
from app.chat.uploads import Uploads
from app.chat.websearch import WebSearch
from app.db.connection import close_database, open_database
from app.errors import ConfigError
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.integrations.websearch import web_search_client
from app.knowledge import knowledge_search
from app.knowledge.imports import knowledge_imports
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.releases.tool import release_notes_tool
from app.review.ide.runtime import IdeReviews
from app.runtime.config_loader import load_settings
from app.runtime.logging import configure_logging, sanic_log_config
from app.runtime.redis_client import open_redis
from app.runtime.secret_box import load_secret_box
from app.runtime.sentry import close_sentry, init_sentry
from app.runtime.settings import Settings, secret_values
from app.search.crawl.job import Crawls
from app.search.graph.tool import code_graph_tool
from app.search.rerank import LLMReranker
from app.search.service import SearchService
from app.search.tool import code_search_tool
from app.tools.integration_tools import IntegrationTools
from app.tools.server_tools import ServerToolRegistry
from app.version import __version__
from app.web.blueprint import BLUEPRINTS as WEB_BLUEPRINTS

log = logging.getLogger("adjutant")
_names = itertools.count()


def create_app(settings: Settings | None = None, *, name: str | None = None) -> Sanic:
    """Build the service. Workers call it without arguments and read the same settings as `serve`."""
    settings = settings or load_settings()
    if not settings.database.url or not settings.redis.url:
        raise ConfigError("the app needs database.url and redis.url; start it with `adjutant serve`")
    redactor = configure_logging(settings.logging, secret_values(settings))
    app = Sanic(name or f"adjutant{next(_names) or ''}", log_config=sanic_log_config())
    app.config.update(
        REQUEST_MAX_SIZE=settings.server.request_max_bytes,
        REQUEST_TIMEOUT=settings.server.request_timeout_s,
        RESPONSE_TIMEOUT=settings.server.request_timeout_s,
        GRACEFUL_SHUTDOWN_TIMEOUT=settings.server.graceful_shutdown_s,
        WEBSOCKET_MAX_SIZE=64 * 1024 * 1024,
        WEBSOCKET_PING_INTERVAL=settings.server.websocket_ping_interval_s,
        WEBSOCKET_PING_TIMEOUT=settings.server.websocket_ping_timeout_s,
        ACCESS_LOG=False,
        FALLBACK_ERROR_FORMAT="json",
        OAS_UI_DEFAULT="swagger",
        OAS_URL_PREFIX="/docs",
        CORS=False,
        # sanic-ext's automatic HEAD/OPTIONS routes double the route table and slow every start; no client
        # of ours uses them.
        HTTP_AUTO_HEAD=False,
        HTTP_AUTO_OPTIONS=False,
    )
    build_services(app, settings, redactor)
    nodelay.install(app)
    install_routes(app)

    @app.before_server_start
    async def open_resources(app: Sanic) -> None:
        await open_stores(app, settings)
        await start_background(app, settings)
        start_chat(app, settings, redactor)

    @app.before_server_stop
    async def stop_steps(app: Sanic) -> None:
        await stop_background(app, settings)

    @app.after_server_stop
    async def close_resources(app: Sanic) -> None:
        await close_stores(app)

    return app


def build_services(app: Sanic, settings: Settings, redactor: Any) -> None:
    """What needs no connection: the model registry and router, server tools, search, config snapshots."""
    app.ctx.settings = settings
    app.ctx.version = __version__
    app.ctx.models = ModelRegistry(settings.llm, settings.providers)
    app.ctx.llm_providers = ProviderPool(settings.providers, settings.llm.router)
    app.ctx.llm = LLMRouter(app.ctx.models, app.ctx.llm_providers, settings.llm.router)
    app.ctx.server_tools = ServerToolRegistry()  # modules register their server tools here
    app.ctx.search = SearchService(settings)
    if settings.search.offer_code_search_tool:
        app.ctx.server_tools.register(code_search_tool(app.ctx.search))
        app.ctx.server_tools.register(code_graph_tool())
    app.ctx.server_tools.register(release_notes_tool(app.ctx.search, settings))
    app.ctx.answers = make_answers(
        settings,
        app.ctx.search,
        app.ctx.models,
        app.ctx.llm,
        extra_sources=knowledge_sources(knowledge_search(settings).search, app.ctx.search.embedder),
    )
    app.ctx.server_tools.register(search_sources_tool(app.ctx.answers))
    app.ctx.client_config = ClientConfigSnapshots.build(settings, app.ctx.models)
    app.ctx.tokens = TokenService(
        settings.auth, cache=TokenCache(settings.auth.token_cache_s) if settings.auth.token_cache_s else None
    )
    app.ctx.redactor = redactor


def install_routes(app: Sanic) -> None:
    """Error handling, guards, validation, the OpenAPI document and every blueprint."""
    errors.install(app)
    guards.install(app)
    validation.install(app)
    openapi_document.install(app)
    for blueprint in (
        health.bp,
        configs.bp,
        auth.bp,
        llm.bp,
        history.bp,
        chat_ws.bp,
        uploads.bp,
        query_solver_sse.bp,
        search.bp,
        graph.bp,
        answers.bp,
        local_binary.bp,
        extension.bp,
        urls.bp,
        websearch.bp,
        rewrites.bp,
        inline_edit.bp,
        integrations.bp,
        jobs.bp,
        webhooks.bp,
        ide_review.bp,
        ide_review_ws.bp,
        reviews.bp,
        release_notes.bp,
        knowledge.bp,
        crawls.bp,
        feedback.bp,
        out_of_scope.bp,
        telemetry.bp,
        *WEB_BLUEPRINTS,
    ):
        app.blueprint(blueprint)


async def open_stores(app: Sanic, settings: Settings) -> None:
    """Sentry, PostgreSQL, Redis and what lives directly on them (login bindings, uploads)."""
    init_sentry(settings.sentry, app.ctx.redactor, release=__version__)
    await open_database(settings.database.url, settings.database)
    app.ctx.redis = await open_redis(settings.redis.url)
    await app.ctx.tokens.connect_revocations(
        RevocationFeed(app.ctx.redis, settings.redis.key_prefix, app.ctx.tokens.cache)
    )
    app.ctx.login_bindings = LoginBindings(
        app.ctx.redis, settings.redis.key_prefix, settings.auth.login_binding_ttl_minutes
    )
    app.ctx.uploads = Uploads(settings)
    app.ctx.integration_runtime = IntegrationRuntime(
        settings.integrations, redis=app.ctx.redis, key_prefix=settings.redis.key_prefix
    )
    app.ctx.connections = Connections(load_secret_box(settings), app.ctx.integration_runtime)
    for tool in IntegrationTools(
        app.ctx.connections, max_output_chars=settings.integrations.max_tool_output_chars
    ).tools():
        app.ctx.server_tools.register(tool)


async def start_background(app: Sanic, settings: Settings) -> None:
    """The job queue with its handlers, and step liveness (heartbeats); both run until shutdown."""
    app.ctx.job_services = await start_jobs(
        settings, redis=app.ctx.redis, search=app.ctx.search, run_worker=settings.jobs.embedded_worker
    )
    app.ctx.jobs = app.ctx.job_services.queue
    app.ctx.schedules = app.ctx.job_services.schedules
    app.ctx.knowledge = knowledge_imports(
        settings, app.ctx.search, queue=lambda: app.ctx.jobs, connections=lambda: app.ctx.connections
    )
    app.ctx.crawls = Crawls(app.ctx.search, lambda: app.ctx.connections, lambda: app.ctx.jobs)
    app.ctx.webhooks = WebhookIntake(
        app.ctx.jobs,
        app.ctx.connections.webhook_target,
        ReplayGuard(app.ctx.redis, settings.redis.key_prefix, settings.jobs.webhook_replay_ttl_s),
    )
    app.ctx.running = RunningSteps(
        app.ctx.redis,
        settings.redis.key_prefix,
        heartbeat_s=settings.chat.heartbeat_s,
        heartbeat_ttl_s=settings.chat.heartbeat_ttl_s,
    )
    await app.ctx.running.start()
    app.ctx.ide_reviews = await IdeReviews.start(settings, app.ctx.redis, app.ctx.llm)


def start_chat(app: Sanic, settings: Settings, redactor: Any) -> None:
    """The query solver, and the services that borrow its helper model."""
    app.ctx.solver = QuerySolver(
        settings=settings.chat,
        registry=app.ctx.models,
        router=app.ctx.llm,
        buffer=StepBuffer(app.ctx.redis, settings.redis.key_prefix),
        hub=LiveHub(settings.chat.follower_queue_frames),
        running=app.ctx.running,
        server_tools=app.ctx.server_tools,
        uploads=app.ctx.uploads,
        agents=settings.agents,
        connected_kinds=app.ctx.connections.kinds,
    )
    app.ctx.solver.start()
    app.ctx.helper = app.ctx.solver.helper
    app.ctx.search.reranker = LLMReranker(partial(app.ctx.helper.ask_helper, purpose="rerank", max_output_tokens=1000))
    app.ctx.answers.retrieval.reranker = app.ctx.search.reranker
    helper = {"ask_helper": app.ctx.helper.ask_helper, "helper_available": app.ctx.helper.helper_model}
    app.ctx.websearch = WebSearch(settings.websearch, web_search_client(settings.websearch), **helper)
    app.ctx.rewrites = Rewrites(settings.rewrites, **helper)
    app.ctx.inline_edits = InlineEdits(
        settings=settings.inline_edit,
        chat=settings.chat,
        registry=app.ctx.models,
        router=app.ctx.llm,
        redact=redactor,
    )


async def stop_background(app: Sanic, settings: Settings) -> None:
    """Drain: let running steps finish (clients would otherwise resume into an error), then stop."""
    ide_reviews = getattr(app.ctx, "ide_reviews", None)
    if ide_reviews is not None:
        await ide_reviews.stop(settings.server.graceful_shutdown_s)
    running = getattr(app.ctx, "running", None)
    if running is not None:
        await running.drain(settings.server.graceful_shutdown_s)
        await running.stop()
    solver = getattr(app.ctx, "solver", None)
    if solver is not None:
        await solver.stop()
    inline_edits = getattr(app.ctx, "inline_edits", None)
    if inline_edits is not None:
        await inline_edits.stop()
    job_services = getattr(app.ctx, "job_services", None)
    if job_services is not None:
        await job_services.stop(settings.jobs.drain_timeout_s)  # unfinished jobs go to other workers


async def close_stores(app: Sanic) -> None:
    await app.ctx.tokens.disconnect_revocations()
    redis = getattr(app.ctx, "redis", None)
    if redis is not None:
        await redis.aclose()
    await app.ctx.llm_providers.aclose()
    if getattr(app.ctx, "websearch", None) is not None:
        await app.ctx.websearch.aclose()
    if getattr(app.ctx, "integration_runtime", None) is not None:
        app.ctx.integration_runtime.close()
    await close_database()
    close_sentry()
