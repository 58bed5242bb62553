"""`adjutant migrate`, `adjutant token ...` and `adjutant config ...`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from app.cli.common import (
    ConfigOption,
    DataDirOption,
    console,
    fail,
    out,
    print_table,
    run_async,
    settings_from_cli,
    user_errors,
)
from app.errors import InvalidRequest
from app.runtime.config_loader import PROJECT_ROOT

if TYPE_CHECKING:
    from app.runtime.settings import Settings
    from app.runtime.stack import Stack

# The database, Redis and token modules are imported inside the commands: `adjutant --help` and every
# command that does not need them start without paying for Tortoise, asyncpg and redis-py.

T = TypeVar("T")
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
config_app = typer.Typer(help="Check and document the configuration.", no_args_is_help=True)


def migrate(
    status: Annotated[bool, typer.Option("--status", help="Only report applied and pending migrations.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Create the database if needed and apply pending migrations."""
    from app.cli.database import prepare_database
    from app.db.migrations import status_of
    from app.runtime.stack import backing_services

    settings = settings_from_cli(data_dir, config)
    with user_errors(), backing_services(settings, need_redis=False) as stack:
        if status:
            report = run_async(partial(status_of, stack.database_url)).as_dict()
            out.print(f"applied: {report['applied']} (latest {report['latest']:04d})")
            out.print(f"pending: {', '.join(report['pending']) or 'none'}")
            return
        created, applied = run_async(partial(prepare_database, stack.database_url))
        if created:
            out.print("database created")
        out.print(f"applied: {', '.join(m.filename for m in applied)}" if applied else "schema is up to date")


def run_on_database(settings: Settings, action: Callable[[], Awaitable[T]]) -> T:
    """Run `action` with the ORM open on a current schema; bad input becomes one line and exit 2."""
    return run_on_stack(settings, lambda _stack: action())


def run_on_stack(settings: Settings, action: Callable[[Stack], Awaitable[T]], *, need_redis: bool = False) -> T:
    """`run_on_database` for an action that also needs the stack's other URLs (Redis)."""
    from app.cli.database import prepare_database
    from app.db.connection import close_database, open_database
    from app.runtime.stack import backing_services

    async def run() -> T:
        await prepare_database(stack.database_url)
        await open_database(stack.database_url, settings.database)
        try:
            return await action(stack)
        finally:
            await close_database()

    with user_errors(), backing_services(settings, need_redis=need_redis) as stack:
        try:
            return run_async(run)
        except InvalidRequest as exc:
            raise fail(exc.detail) from None


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The user's email; the user is created if new.")],
    team: Annotated[str, typer.Option(help="The team the token acts for; created if new.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
    user_name: Annotated[str, typer.Option(help="Display name for a new user (default: from the email).")] = "",
    ttl_days: Annotated[int | None, typer.Option(help="Lifetime in days (default auth.token_ttl_days).")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue a bearer token. Only the token is printed on stdout, so it can be captured by scripts."""
    from app.auth.tokens import TokenService

    settings = settings_from_cli(data_dir, config)
    service = TokenService(settings.auth)
    raw, row = run_on_database(
        settings, partial(service.issue, email=email, team=team, name=name, user_name=user_name, ttl_days=ttl_days)
    )
    console.print(f"token {row.prefix}… for {email} in team {team!r}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC")
    out.print(raw, soft_wrap=True)


@token_app.command("list")
def token_list(
    email: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List tokens (prefixes only; tokens themselves are never stored)."""
    from app.db.repositories.identity import list_tokens

    settings = settings_from_cli(data_dir, config)
    rows = run_on_database(settings, partial(list_tokens, email))
    header = ("prefix", "user", "team", "origin", "name", "expires (UTC)", "state")
    lines = [
        (
            row.prefix,
            row.user.email,
            row.team.name,
            row.origin,
            row.name,
            f"{row.expires_at:%Y-%m-%d %H:%M}",
            "revoked" if row.revoked_at else "rotated" if row.replaced_by_id else "active",
        )
        for row in rows
    ]
    print_table(header, lines)


@token_app.command("revoke")
def token_revoke(
    prefix: Annotated[str | None, typer.Option(help="Revoke the token with this prefix (see `token list`).")] = None,
    email: Annotated[str | None, typer.Option(help="Revoke every token of this user.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke tokens, each with its whole rotation chain; requests with them are rejected from then on."""
    from redis.asyncio import Redis

    from app.auth.token_cache import RevocationFeed
    from app.auth.tokens import TokenService

    settings = settings_from_cli(data_dir, config)
    service = TokenService(settings.auth)

    async def revoke(stack: Stack) -> int:
        # Running servers cache tokens for auth.token_cache_s: tell them, so the revocation holds at once.
        redis = Redis.from_url(stack.redis_url)
        try:
            await service.connect_revocations(RevocationFeed(redis, settings.redis.key_prefix))
            return await service.revoke(prefix=prefix, email=email)
        finally:
            await redis.aclose()

    count = run_on_stack(settings, revoke, need_redis=True)
    out.print(f"revoked {count} token{'s' if count != 1 else ''}")
    if count == 0:
        raise typer.Exit(1)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and print where the service would listen."""
    settings = settings_from_cli(None, config)
    out.print(
        f"configuration OK: {settings.server.base_url()}, data dir {settings.server.resolved_data_dir()}, "
        f"database {'external' if settings.database.url else 'embedded'}, "
        f"redis {'external' if settings.redis.url else 'embedded'}"
    )


@config_app.command("template")
def config_template(
    write: Annotated[bool, typer.Option("--write", help="Rewrite config_template.json instead of printing.")] = False,
) -> None:
    """Print config_template.json: every key with its default, secrets empty."""
    from app.runtime.config_docs import template_json

    _emit(template_json(), PROJECT_ROOT / "config_template.json", write)


@config_app.command("docs")
def config_docs(
    write: Annotated[bool, typer.Option("--write", help="Rewrite docs/configuration.md instead of printing.")] = False,
) -> None:
    """Print the configuration reference (docs/configuration.md)."""
    from app.runtime.config_docs import reference_markdown

    _emit(reference_markdown(), PROJECT_ROOT / "docs" / "configuration.md", write)


def _emit(text: str, path: Path, write: bool) -> None:
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")
    else:
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
