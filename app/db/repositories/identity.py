"""Teams, users, memberships and API tokens."""

from __future__ import annotations

import contextlib
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.db.models import ApiToken, Membership, Team, User


async def team_named(name: str) -> Team | None:
    return await Team.get_or_none(name=name)


async def get_or_create_team(name: str) -> Team:
    team = await Team.get_or_none(name=name)
    if team is not None:
        return team
    try:
        return await Team.create(name=name)
    except IntegrityError:  # created concurrently
        return await Team.get(name=name)


async def get_or_create_user(email: str, name: str) -> User:
    user = await User.get_or_none(email=email)
    if user is not None:
        return user
    try:
        return await User.create(email=email, name=name)
    except IntegrityError:
        return await User.get(email=email)


async def ensure_membership(user: User, team: Team) -> None:
    """Make `user` a member of `team`; the first member of a team becomes its admin (someone must manage it)."""
    if await Membership.exists(user_id=user.id, team_id=team.id):
        return
    first = not await Membership.exists(team_id=team.id)
    with contextlib.suppress(IntegrityError):  # joined concurrently
        await Membership.create(user_id=user.id, team_id=team.id, role="admin" if first else "member")


async def membership_role(user_id: int, team_id: int) -> str | None:
    found = await Membership.filter(user_id=user_id, team_id=team_id).values_list("role", flat=True)
    return found[0] if found else None


async def set_membership_role(user_id: int, team_id: int, role: str) -> bool:
    return await Membership.filter(user_id=user_id, team_id=team_id).update(role=role) > 0


async def team_members(team_id: int) -> list[Membership]:
    return await Membership.filter(team_id=team_id).select_related("user").order_by("created_at", "id")


async def user_by_email(email: str) -> User | None:
    return await User.get_or_none(email=email.strip().lower())


async def create_token(**fields: object) -> ApiToken:
    return await ApiToken.create(**fields)


async def find_token(token_hash: str) -> ApiToken | None:
    return await ApiToken.filter(token_hash=token_hash).select_related("user", "team").first()


async def record_rotation(old: ApiToken, replacement: dict[str, object], now: datetime) -> ApiToken | None:
    """Create the replacement of `old` once, even when several workers rotate it at the same moment; None if
    `old` has been revoked (its chain with it: there must be no replacement to hand out)."""
    async with in_transaction():
        locked = await ApiToken.filter(id=old.id).select_for_update().first()
        if locked is None:
            raise LookupError("token vanished during rotation")
        if locked.revoked_at is not None:  # revoked while this request was deciding to rotate it
            return None
        if locked.replaced_by_id is not None:  # another request rotated it first: same derived token
            return await ApiToken.get(id=locked.replaced_by_id)
        new = await ApiToken.create(**replacement)
        await ApiToken.filter(id=old.id).update(replaced_by_id=new.id, rotated_at=now)
        return new


async def touch_token(token_id: int, now: datetime) -> None:
    await ApiToken.filter(id=token_id).update(last_used_at=now)


async def list_tokens(email: str | None = None) -> list[ApiToken]:
    query = ApiToken.all().select_related("user", "team").order_by("-created_at")
    if email:
        query = query.filter(user__email=email)
    return await query


async def revoke_token_hash(token_hash: str, now: datetime) -> int:
    return await _revoke_chains(ApiToken.filter(token_hash=token_hash), now)


async def revoke_tokens(*, prefix: str | None = None, email: str | None = None, now: datetime) -> int:
    """Revoke the matching tokens and every token of their rotation chains; returns how many were revoked."""
    query = ApiToken.filter(revoked_at__isnull=True)
    if prefix:
        query = query.filter(prefix=prefix)
    if email:
        user = await User.get_or_none(email=email)
        if user is None:
            return 0
        query = query.filter(user_id=user.id)
    return await _revoke_chains(query, now)


async def _revoke_chains(matched: QuerySet[ApiToken], now: datetime) -> int:
    """Revoke `matched` and, transitively, the tokens they replaced and were replaced by.

    A rotation's old token hands out its replacement during the overlap, and the replacement is the same
    credential renewed: revoking either alone would leave the other usable. Rows are locked as the chain
    is walked, so a rotation racing this either finishes first (and its new token is found here) or sees
    its token revoked and creates nothing.
    """
    async with in_transaction():
        chain: set[int] = set()
        frontier = {row.id for row in await matched.select_for_update()}
        while frontier:
            chain |= frontier
            ids = list(frontier)
            linked = await ApiToken.filter(Q(id__in=ids) | Q(replaced_by_id__in=ids)).select_for_update()
            neighbours = {row.id for row in linked}
            neighbours |= {row.replaced_by_id for row in linked if row.replaced_by_id is not None}
            frontier = neighbours - chain
        if not chain:
            return 0
        return await ApiToken.filter(id__in=list(chain), revoked_at__isnull=True).update(revoked_at=now)


async def current_expiry(token_id: int) -> datetime | None:
    """When the caller's credential expires: its replacement's expiry once it has been rotated."""
    token = await ApiToken.filter(id=token_id).select_related("replaced_by").first()
    if token is None:
        return None
    return token.replaced_by.expires_at if token.replaced_by is not None else token.expires_at
