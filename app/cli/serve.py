"""`adjutant serve`: start (or attach to) the backing services, migrate, and run the HTTP service."""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from sanic import Sanic
from sanic.worker.loader import AppLoader

from app.api.app import create_app
from app.cli.common import ConfigOption, DataDirOption, console, run_async, settings_from_cli, user_errors
from app.cli.database import prepare_database
from app.llm.errors import ModelUnavailable
from app.llm.registry import ModelRegistry, no_model_hint
from app.runtime.settings import Settings
from app.runtime.stack import backing_services


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (server.host).", show_default=False)] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (server.port, default 8084).", show_default=False)
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (server.workers).", show_default=False)] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the service. Without DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis start in the data dir."""
    overrides = {("server", k): v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    settings = settings_from_cli(data_dir, config, overrides)
    with user_errors(), backing_services(settings) as stack:
        created, applied = run_async(partial(prepare_database, stack.database_url))
        where = stack.describe()
        console.print(f"database  {where['database']}" + (" — created" if created else ""))
        console.print(f"redis     {where['redis']}")
        console.print(f"data dir  {where['data_dir']}")
        for note in stack.notes:
            console.print(note, markup=False, soft_wrap=True)
        if applied:
            console.print(f"migrations applied: {', '.join(m.filename for m in applied)}")
        console.print(chat_model_line(settings), markup=False, soft_wrap=True)
        # Workers are separate processes: they read the same sources, so pass what we resolved through them.
        os.environ["DATABASE_URL"] = stack.database_url
        os.environ["REDIS_URL"] = stack.redis_url
        for (section, key), value in overrides.items():
            os.environ[f"ADJUTANT_{section.upper()}__{key.upper()}"] = str(value)
        os.environ["ADJUTANT_SERVER__DATA_DIR"] = str(stack.data_dir)
        server = settings.server
        console.print(
            f"Adjutant listening on http://{server.host}:{server.port} "
            f"(public URL {server.base_url()}, {server.workers} worker{'s' if server.workers > 1 else ''})"
        )
        if server.workers == 1:
            app = create_app()
            app.prepare(host=server.host, port=server.port, single_process=True, motd=False, access_log=False)
            Sanic.serve_single(primary=app)
        else:
            _prepare_metrics_dir(stack.data_dir / "run" / "metrics")
            loader = AppLoader(factory=create_app)
            app = loader.load()
            app.prepare(host=server.host, port=server.port, workers=server.workers, motd=False, access_log=False)
            Sanic.serve(primary=app, app_loader=loader)
        console.print("Adjutant stopped")


def chat_model_line(settings: Settings) -> str:
    """The model a chat gets by default, or that there is none and how to fix it (one line, at start-up)."""
    try:
        model = ModelRegistry(settings.llm, settings.providers).default()
    except ModelUnavailable:
        return f"chat      no usable model: {no_model_hint(settings.providers)}"
    return f"chat      default model {model.name} ({model.routes[0].provider})"


def _prepare_metrics_dir(directory: Path) -> None:
    """prometheus-client's multiprocess mode: one fresh directory per run, shared by the workers."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
