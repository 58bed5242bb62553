"""Teams, users, memberships and API tokens."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import ApiToken, Membership, Team, User


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
    await Membership.get_or_create(user_id=user.id, team_id=team.id)


async def create_token(**fields: object) -> ApiToken:
    return await ApiToken.create(**fields)


async def find_token(token_hash: str) -> ApiToken | None:
    return await ApiToken.filter(token_hash=token_hash).select_related("user", "team").first()


async def record_rotation(old: ApiToken, replacement: dict[str, object], now: datetime) -> ApiToken:
    """Create the replacement of `old` once, even when several workers rotate it at the same moment."""
    async with in_transaction():
        locked = await ApiToken.filter(id=old.id).select_for_update().first()
        if locked is None:
            raise LookupError("token vanished during rotation")
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


async def revoke_token_hash(token_hash: str, now: datetime) -> None:
    await ApiToken.filter(token_hash=token_hash, revoked_at__isnull=True).update(revoked_at=now)


async def revoke_tokens(*, prefix: str | None = None, email: str | None = None, now: datetime) -> int:
    query = ApiToken.filter(revoked_at__isnull=True)
    if prefix:
        query = query.filter(prefix=prefix)
    if email:
        user = await User.get_or_none(email=email)
        if user is None:
            return 0
        query = query.filter(user_id=user.id)
    return await query.update(revoked_at=now)


async def current_expiry(token_id: int) -> datetime | None:
    """When the caller's credential expires: its replacement's expiry once it has been rotated."""
    token = await ApiToken.filter(id=token_id).select_related("replaced_by").first()
    if token is None:
        return None
    return token.replaced_by.expires_at if token.replaced_by is not None else token.expires_at
