"""`adjutant worker`: a process that only runs jobs (and fires schedules), on any machine that reaches the
database and the job backend. SIGTERM or Ctrl-C drains it: running jobs get `jobs.drain_timeout_s` to finish,
the rest go back to the other workers."""

from __future__ import annotations

import asyncio
import signal
from functools import partial
from typing import Annotated

import typer

from app.api.jobs_runtime import start_jobs
from app.cli.common import ConfigOption, DataDirOption, console, fail, run_async, settings_from_cli, user_errors
from app.cli.database import prepare_database
from app.db.connection import close_database, open_database
from app.runtime.redis_client import open_redis
from app.runtime.settings import Settings
from app.runtime.stack import Stack, backing_services
from app.search.service import SearchService


def worker(
    kinds: Annotated[
        str | None, typer.Option("--kinds", help="Run only these job kinds, comma separated (default: all).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=1024, help="Jobs run at once (jobs.worker_concurrency).", show_default=False),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run background jobs until SIGTERM, then drain."""
    settings = settings_from_cli(data_dir, config)
    chosen = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    with user_errors(), backing_services(settings) as stack:
        run_async(partial(prepare_database, stack.database_url))
        try:
            run_async(partial(_run, settings, stack, chosen, concurrency))
        except ValueError as exc:  # an unknown kind
            raise fail(str(exc)) from None
    console.print("worker stopped")


async def _run(settings: Settings, stack: Stack, kinds: list[str] | None, concurrency: int | None) -> None:
    await open_database(stack.database_url, settings.database)
    redis = await open_redis(stack.redis_url)
    try:
        services = await start_jobs(
            settings,
            redis=redis,
            search=SearchService(settings),
            run_worker=True,
            kinds=kinds,
            concurrency=concurrency,
        )
        running = services.worker
        assert running is not None
        if settings.jobs.worker_metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.jobs.worker_metrics_port, addr=settings.server.host)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        console.print(
            f"worker {running.worker_id}: {', '.join(running.kinds)} on {settings.jobs.backend} "
            f"(concurrency {running.concurrency})",
            markup=False,
            soft_wrap=True,
        )
        await stop.wait()
        console.print(f"draining (up to {settings.jobs.drain_timeout_s:g} s)")
        await services.stop(settings.jobs.drain_timeout_s)
    finally:
        await redis.aclose()
        await close_database()
