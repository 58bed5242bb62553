"""`adjutant integrations add|list|test|remove`: a team's connections from the command line.

Secrets never go on the command line (shell history, `ps`): `add` reads the token, API token or password from
the environment variable `--secret-env` names, else from stdin when it is not a terminal, else from a hidden
prompt; a GitHub App's private key from `--private-key-file`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.table import Table

from app.cli.admin import run_on_database
from app.cli.common import ConfigOption, DataDirOption, fail, out, settings_from_cli
from app.db.repositories.identity import get_or_create_team, team_named
from app.errors import ConnectionNotFound, InvalidRequest
from app.integrations.connections import AUTH_FORMS, ConnectionInput, Connections
from app.integrations.runtime import IntegrationRuntime
from app.runtime.secret_box import load_secret_box
from app.runtime.settings import Settings
from app.wire_errors import validation_details

T = TypeVar("T")
integrations_app = typer.Typer(help="Connect the team's SCM, trackers, docs and chat platforms.", no_args_is_help=True)
TeamOption = Annotated[str, typer.Option(help="The team that owns the connection.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _service(settings: Settings) -> Connections:
    # The CLI opens only the database: rate-limit pauses stay in this process for the command's few calls.
    runtime = IntegrationRuntime(settings.integrations, redis=None, key_prefix=settings.redis.key_prefix)
    return Connections(load_secret_box(settings), runtime)


def _read_secret(label: str, env: str | None) -> str:
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise fail(f"the environment variable {env} is empty or unset")
        return value
    if not sys.stdin.isatty():
        value = sys.stdin.read().strip()
        if not value:
            raise fail(f"no {label} on stdin")
        return value
    return typer.prompt(label, hide_input=True).strip()


def _options(pairs: list[str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--option expects key=value, got {pair!r}")
        if value.startswith("["):  # a list, e.g. channels=["C1","C2"]
            try:
                found[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                raise fail(f"--option {key}: not a JSON list") from None
        found[key] = {"true": True, "false": False}.get(value.lower(), value)
    return found


@integrations_app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help="github, gitlab, bitbucket, jira, confluence, linear, slack or discord.")],
    name: Annotated[str, typer.Option(help="A name for the connection, unique in the team.")],
    base_url: Annotated[
        str | None, typer.Option(help="Self-hosted or site URL (required for Jira/Confluence); default: the cloud.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Jira/Confluence Cloud: the account's email (with an API token).")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Bitbucket: the username (with an app password).")] = None,
    app_id: Annotated[str | None, typer.Option(help="GitHub App: the app id (with --private-key-file).")] = None,
    private_key_file: Annotated[
        Path | None, typer.Option(help="GitHub App: its private key (PEM).", exists=True, dir_okay=False)
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="Read the token / API token / password from this environment variable (else stdin)."),
    ] = None,
    webhook_secret_env: Annotated[
        str | None, typer.Option(help="Read the webhook secret from this environment variable.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="key=value, e.g. installation_id=42 (repeatable).")
    ] = None,
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Connect a service; prints the connection (never its credentials) and its webhook path."""
    if kind not in AUTH_FORMS:
        raise fail(f"unknown kind {kind!r}; one of {', '.join(AUTH_FORMS)}")
    credentials: dict[str, str] = {}
    if app_id or private_key_file:
        if not (app_id and private_key_file):
            raise fail("a GitHub App needs both --app-id and --private-key-file")
        credentials = {"app_id": app_id, "private_key": private_key_file.read_text()}
    elif email:
        credentials = {"email": email, "api_token": _read_secret("API token", secret_env)}
    elif username:
        credentials = {"username": username, "password": _read_secret("app password", secret_env)}
    else:
        credentials = {"token": _read_secret("token", secret_env)}
    webhook_secret = os.environ.get(webhook_secret_env, "") if webhook_secret_env else None
    if webhook_secret_env and not webhook_secret:
        raise fail(f"the environment variable {webhook_secret_env} is empty or unset")
    try:
        data = ConnectionInput(
            kind=kind,  # type: ignore[arg-type]
            name=name,
            base_url=base_url,
            credentials=credentials,  # type: ignore[arg-type]
            webhook_secret=webhook_secret,
            options=_options(option),
        )
    except ValidationError as exc:
        raise fail("; ".join(d["message"] for d in validation_details(exc))) from None
    settings = settings_from_cli(data_dir, config)
    service = _service(settings)

    async def run() -> Any:
        owner = await get_or_create_team(team)
        return await service.add(owner.id, None, data)

    view = run_on_database(settings, run)
    if as_json:
        out.print_json(view.model_dump_json())
        return
    out.print(f"connected {view.kind} as {view.name!r} (id {view.id}) at {view.base_url}")
    out.print(f"webhook path: {view.webhook_path}" + ("" if view.has_webhook_secret else " (no webhook secret set)"))
    out.print(f"check it with: adjutant integrations test {view.name} --team {team}")


@integrations_app.command("list")
def list_(team: TeamOption = "default", as_json: JsonOption = False, data_dir: DataDirOption = None,
          config: ConfigOption = None) -> None:  # fmt: skip
    """The team's connections and their last test."""
    settings = settings_from_cli(data_dir, config)
    service = _service(settings)

    async def run() -> Any:
        owner = await team_named(team)
        return [] if owner is None else await service.list(owner.id)

    views = run_on_database(settings, run)
    if as_json:
        out.print_json(json.dumps([v.model_dump(mode="json") for v in views]))
        return
    if not views:
        out.print(f"team {team!r} has no connections (adjutant integrations add KIND --name NAME)")
        return
    table = Table("name", "kind", "base url", "auth", "last test")
    for view in views:
        test = view.last_test
        shown = "never" if test is None else ("ok " if test.ok else "FAILED ") + test.detail
        table.add_row(view.name, view.kind, view.base_url, view.auth_type, shown)
    out.print(table)


@integrations_app.command("test")
def check_connection(
    connection: Annotated[str, typer.Argument(help="The connection's name or id.")],
    team: TeamOption = "default",
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """One cheap authenticated call: who the credentials are and which scopes they have. Exit 1 on failure."""
    result = _on_connection(
        data_dir, config, team, connection, lambda service, team_id: service.test(team_id, connection)
    )
    if as_json:
        out.print_json(result.model_dump_json())
    elif result.ok and result.identity is not None:
        identity = result.identity
        out.print(f"ok: {result.connection.kind} {result.connection.name!r} acts as {identity.login}"
                  + (f" ({identity.name})" if identity.name else ""))  # fmt: skip
        if identity.detail:
            out.print(f"  {identity.detail}")
        out.print("  scopes: " + (", ".join(identity.scopes) or "none reported"))
    else:
        out.print(f"FAILED: {result.connection.kind} {result.connection.name!r}: {result.error_code}: {result.error}")
    if not result.ok:
        raise typer.Exit(1)


@integrations_app.command("remove")
def remove(
    connection: Annotated[str, typer.Argument(help="The connection's name or id.")],
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a connection and its sealed credentials."""
    view = _on_connection(
        data_dir, config, team, connection, lambda service, team_id: service.remove(team_id, connection)
    )
    out.print(f"removed {view.kind} connection {view.name!r} ({view.id})")


def _on_connection(
    data_dir: Path | None,
    config: Path | None,
    team: str,
    reference: str,
    action: Callable[[Connections, int], Awaitable[T]],
) -> T:
    """Run `action` on the team's connections; an unknown team or connection is one line and exit 2."""
    settings = settings_from_cli(data_dir, config)
    service = _service(settings)

    async def run() -> T:
        owner = await team_named(team)
        if owner is None:
            raise InvalidRequest(f"no team named {team!r}")
        return await action(service, owner.id)

    try:
        return run_on_database(settings, run)
    except ConnectionNotFound:
        raise fail(f"no connection {reference!r} in that team (adjutant integrations list)") from None
