"""`adjutant team members|set-role`: who is in a team and what each may do (docs/integrations.md#roles)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from app.auth.roles import ROLES
from app.cli.admin import run_on_database
from app.cli.common import ConfigOption, DataDirOption, fail, out, settings_from_cli
from app.db.repositories import identity
from app.errors import InvalidRequest

team_app = typer.Typer(help="Team members and their roles (member, maintainer, admin).", no_args_is_help=True)
TeamOption = Annotated[str, typer.Option(help="The team.")]


@team_app.command("members")
def members(team: TeamOption = "default", data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The team's members with their roles."""
    settings = settings_from_cli(data_dir, config)

    async def run() -> Any:
        owner = await identity.team_named(team)
        if owner is None:
            raise InvalidRequest(f"no team named {team!r}")
        return await identity.team_members(owner.id)

    rows = run_on_database(settings, run)
    table = Table("email", "name", "role", "since")
    for row in rows:
        table.add_row(row.user.email, row.user.name, row.role, f"{row.created_at:%Y-%m-%d}")
    out.print(table)


@team_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The member's email.")],
    role: Annotated[str, typer.Argument(help="member, maintainer or admin.")],
    team: TeamOption = "default",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a member's role; the operator's command, so it needs no role itself."""
    if role not in ROLES:
        raise fail(f"role must be one of {', '.join(ROLES)}")
    settings = settings_from_cli(data_dir, config)

    async def run() -> Any:
        owner = await identity.team_named(team)
        user = await identity.user_by_email(email)
        if owner is None or user is None or not await identity.set_membership_role(user.id, owner.id, role):
            raise InvalidRequest(f"{email} is not a member of team {team!r}")

    run_on_database(settings, run)
    out.print(f"{email} is now {role} in team {team!r}")
