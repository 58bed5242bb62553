"""Team roles: `member` uses what the team has, `maintainer` also changes review rules and approvals, `admin` also
manages the team's connections and roles. Checked where a route changes team-wide state, with one lookup then:
reading a role on every request would cost every request a query for what few routes need."""

from __future__ import annotations

from typing import Literal

from app.auth.principal import Principal
from app.db.models import Membership
from app.db.repositories import identity
from app.errors import Conflict, Forbidden, NotFound

Role = Literal["member", "maintainer", "admin"]
ROLES: tuple[Role, ...] = ("member", "maintainer", "admin")  # each includes the rights of those before it


def includes(role: str | None, minimum: Role) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(minimum)  # type: ignore[arg-type]


async def role_of(principal: Principal) -> Role | None:
    role = await identity.membership_role(principal.user_id, principal.team_id)
    return role if role in ROLES else None  # type: ignore[return-value]


async def require_role(principal: Principal, minimum: Role, *, action: str) -> None:
    """Forbidden (403) unless the caller's role in its team includes `minimum`; `action` says what was refused."""
    role = await role_of(principal)
    if not includes(role, minimum):
        raise Forbidden(f"{action} needs the {minimum} role in team {principal.team_name!r}; yours is {role or 'none'}")


async def members(principal: Principal) -> list[Membership]:
    """The caller's team, in joining order, with each member's user."""
    return await identity.team_members(principal.team_id)


async def set_role(principal: Principal, user_id: int, role: Role) -> None:
    """Give a member of the caller's team a role (admins only); the team always keeps one admin."""
    await require_role(principal, "admin", action="changing roles")
    team = await identity.team_members(principal.team_id)
    target = next((m for m in team if m.user_id == user_id), None)  # type: ignore[attr-defined]
    if target is None:
        raise NotFound("no such member in this team")
    if target.role == "admin" and role != "admin" and sum(m.role == "admin" for m in team) == 1:
        raise Conflict("the team needs at least one admin; make someone else admin first")
    await identity.set_membership_role(user_id, principal.team_id, role)
