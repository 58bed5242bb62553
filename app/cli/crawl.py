"""`adjutant crawl start|status|list`: crawl a team's SCM connection for repositories to index. `start` queues
the crawl for the workers (`adjutant serve` or `adjutant worker`) and, with `--wait`, follows its progress.
Like the API, each command sees one team (`--team`): another team's crawl or connection is "not found"."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.api.job_kinds import job_handlers
from app.cli.common import ConfigOption, DataDirOption, console, fail, out, run_async, settings_from_cli, user_errors
from app.cli.database import prepare_database
from app.cli.team_data import on_database, team_id_named
from app.db.connection import close_database, open_database
from app.errors import AdjutantError, InvalidRequest
from app.integrations.connections import Connections
from app.integrations.runtime import IntegrationRuntime
from app.jobs.backends import job_backend
from app.jobs.queue import JobQueue
from app.jobs.webhook_events import WebhookEvents
from app.runtime.redis_client import open_redis
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings
from app.runtime.stack import backing_services
from app.search.crawl.job import CrawlRequest, Crawls
from app.search.service import SearchService

T = TypeVar("T")
crawl_app = typer.Typer(help="Crawl a connection's repositories and index them.", no_args_is_help=True)
TeamOption = Annotated[str, typer.Option(help="The team that owns the connection.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
COUNTS = ("listed", "filtered", "skipped", "unchanged", "queued", "indexed", "failed")


def _crawls(settings: Settings, queue: Callable[[], JobQueue], redis: Any | None) -> Crawls:
    runtime = IntegrationRuntime(settings.integrations, redis=redis, key_prefix=settings.redis.key_prefix)
    connections = Connections(load_secret_box(settings), runtime)
    return Crawls(SearchService(settings), lambda: connections, queue)


def _with_queue(settings: Settings, action: Callable[[Crawls], Awaitable[T]]) -> T:
    """Run `action` with the crawls service and the job queue open (starting a crawl publishes its job)."""

    async def run() -> T:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        redis = await open_redis(stack.redis_url)
        holder: list[JobQueue] = []
        handlers = job_handlers(settings, SearchService(settings), WebhookEvents(), lambda: holder[0])
        queue = JobQueue(job_backend(settings, redis), handlers, max_payload_bytes=settings.jobs.max_payload_bytes)
        holder.append(queue)
        try:
            await queue.start()
            return await action(_crawls(settings, lambda: queue, redis))
        finally:
            await queue.stop()
            await redis.aclose()
            await close_database()

    with user_errors(), backing_services(settings) as stack:
        try:
            return run_async(run)
        except AdjutantError as exc:
            raise fail(exc.detail) from None


def _read(settings: Settings, action: Callable[[Crawls], Awaitable[T]]) -> T:
    return on_database(settings, lambda: action(_crawls(settings, _no_queue, None)))


def _no_queue() -> JobQueue:
    raise InvalidRequest("reading crawls queues nothing")


def _summary(view: dict[str, Any]) -> str:
    progress = view["progress"]
    counts = ", ".join(f"{progress[name]} {name}" for name in COUNTS)
    reasons = progress.get("filtered_reasons") or {}
    why = f" (filtered: {', '.join(f'{k} {v}' for k, v in reasons.items())})" if reasons else ""
    paused = f"; paused until {view['resume_at']}" if view.get("resume_at") else ""
    return f"crawl {view['id']} {view['status']}: {counts}{why}{paused}"


@crawl_app.command("start")
def crawl_start(
    connection: Annotated[str, typer.Option(help="The connection's id or name.")],
    team: TeamOption = "default",
    org: Annotated[str | None, typer.Option(help="A GitHub organisation.")] = None,
    group: Annotated[str | None, typer.Option(help="A GitLab group (with its subgroups).")] = None,
    workspace: Annotated[str | None, typer.Option(help="A Bitbucket workspace.")] = None,
    topic: Annotated[str | None, typer.Option(help="Repositories with this topic (within --org/--group).")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="A full repository name (repeatable).")] = None,
    language: Annotated[list[str] | None, typer.Option("--language", help="Main language (repeatable).")] = None,
    include_archived: Annotated[bool, typer.Option(help="Index archived repositories too.")] = False,
    include_forks: Annotated[bool, typer.Option(help="Index forks too.")] = False,
    max_size_kb: Annotated[int | None, typer.Option(help="Leave out larger repositories.")] = None,
    pushed_since: Annotated[str | None, typer.Option(help="Leave out repositories not pushed since (ISO).")] = None,
    max_repositories: Annotated[int, typer.Option(help="Most repositories listed.")] = 200,
    wait: Annotated[bool, typer.Option(help="Follow the crawl until its repositories are indexed.")] = False,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Queue a crawl of the connection (a worker runs it); --wait shows its progress to the end."""
    scope = {"org": org, "group": group, "workspace": workspace, "topic": topic, "names": name}
    filters: dict[str, Any] = {
        "include_archived": include_archived,
        "include_forks": include_forks,
        "languages": language or [],
        "max_size_kb": max_size_kb,
        "pushed_since": pushed_since,
    }
    try:
        ask = CrawlRequest.model_validate(
            {
                "connection": connection,
                "scope": {k: v for k, v in scope.items() if v is not None},
                "filters": {k: v for k, v in filters.items() if v is not None},
                "max_repositories": max_repositories,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
        raise fail(problems) from None
    settings = settings_from_cli(data_dir, config)

    async def start(crawls: Crawls) -> dict[str, Any]:
        return await crawls.request(await team_id_named(team), None, ask)

    view = _with_queue(settings, start)
    if wait:
        view = _follow(settings, team, view["id"])
    _show(view, as_json)
    if view["status"] == "FAILED":
        raise typer.Exit(1)


def _follow(settings: Settings, team: str, crawl_id: int) -> dict[str, Any]:
    columns = (SpinnerColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("crawl", total=None, detail=f"crawl {crawl_id} QUEUED")
        while True:
            view = _status(settings, team, str(crawl_id))
            bar.update(task, detail=_summary(view))
            if view["status"] in ("SUCCEEDED", "FAILED"):
                return view
            time.sleep(1.0)


def _status(settings: Settings, team: str, crawl_id: str) -> dict[str, Any]:
    async def read(crawls: Crawls) -> dict[str, Any]:
        return await crawls.get(await team_id_named(team), crawl_id)

    return _read(settings, read)


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(view, indent=2))
        return
    out.print(_summary(view))
    for row in view.get("repositories") or []:
        detail = row["skipped_reason"] or row["error"] or (row["last_indexed_commit"] or row["head_commit"] or "")
        print(f"{row['full_name']}\t{row['state']}\t{detail}")


@crawl_app.command("status")
def crawl_status(
    crawl_id: Annotated[str, typer.Argument(help="The crawl's id.")],
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """A crawl's progress and what became of each repository it listed."""
    _show(_status(settings_from_cli(data_dir, config), team, crawl_id), as_json)


@crawl_app.command("list")
def crawl_list(
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The team's recent crawls, newest first."""

    async def read(crawls: Crawls) -> list[dict[str, Any]]:
        return await crawls.recent(await team_id_named(team))

    views = _read(settings_from_cli(data_dir, config), read)
    if as_json:
        print(json.dumps(views, indent=2))
        return
    for view in views:
        started = view["created_at"] and datetime.fromisoformat(view["created_at"]).strftime("%Y-%m-%d %H:%M")
        print(f"{_summary(view)}\t{view['connection']}\t{started}")
