"""Token lifecycle: issue, verify, expiry, refresh, rotation (idempotent, overlapping), revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.auth.tokens import TOKEN_PATTERN, TokenService, TokenState, hash_token, utcnow
from app.db.models import ApiToken, User
from app.errors import AuthUnavailable, InvalidRequest, NotVerified
from app.runtime.settings import Settings


@pytest.fixture
def tokens(settings: Settings) -> TokenService:
    return TokenService(settings.auth)


async def set_expiry(raw: str, delta: timedelta) -> None:
    await ApiToken.filter(token_hash=hash_token(raw)).update(expires_at=utcnow() + delta)


async def test_issued_tokens_are_opaque_and_stored_only_as_hashes(db, tokens):
    raw, row = await tokens.issue(email="Dev@Example.com", team="core", name="laptop")
    assert TOKEN_PATTERN.match(raw)
    stored = await ApiToken.get(id=row.id)
    assert stored.token_hash == hash_token(raw) and raw not in stored.token_hash
    assert raw.startswith(stored.prefix) and len(stored.prefix) == 12
    auth = await tokens.authenticate(raw)
    assert auth.state is TokenState.VALID and auth.replacement is None and not auth.expired
    assert (auth.principal.email, auth.principal.team_name) == ("dev@example.com", "core")


async def test_one_user_can_hold_tokens_for_several_teams(db, tokens):
    raw_a, _ = await tokens.issue(email="dev@example.com", team="alpha")
    raw_b, _ = await tokens.issue(email="dev@example.com", team="beta")
    a, b = await tokens.authenticate(raw_a), await tokens.authenticate(raw_b)
    assert a.principal.user_id == b.principal.user_id
    assert a.principal.team_id != b.principal.team_id


@pytest.mark.parametrize("raw", [None, "", "Bearer x", "adj_short", "adj_" + "A" * 43 + "!", "x" * 47])
async def test_missing_or_malformed_tokens_are_not_verified(db, tokens, raw):
    with pytest.raises(NotVerified):
        await tokens.authenticate(raw)


async def test_unknown_well_formed_token_is_not_verified(db, tokens):
    with pytest.raises(NotVerified, match="unknown"):
        await tokens.authenticate("adj_" + "A" * 43)


@pytest.mark.parametrize(
    ("email", "team", "ttl"),
    [("not-an-email", "core", None), ("a@b.co", "", None), ("a@b.co", "x" * 101, None), ("a@b.co", "core", 0)],
)
async def test_bad_issue_requests_are_refused_and_create_nothing(db, tokens, email, team, ttl):
    with pytest.raises(InvalidRequest):
        await tokens.issue(email=email, team=team, ttl_days=ttl)
    assert await ApiToken.all().count() == 0
    assert await User.all().count() == 0


async def test_revocation_by_prefix_and_by_user(db, tokens):
    first, row = await tokens.issue(email="dev@example.com", team="core")
    second, _ = await tokens.issue(email="dev@example.com", team="core")
    other, _ = await tokens.issue(email="other@example.com", team="core")
    assert await tokens.revoke(prefix=row.prefix) == 1
    with pytest.raises(NotVerified):
        await tokens.authenticate(first)
    await tokens.authenticate(second)
    assert await tokens.revoke(email="DEV@example.com") == 1
    with pytest.raises(NotVerified):
        await tokens.authenticate(second)
    await tokens.authenticate(other)
    with pytest.raises(InvalidRequest):
        await tokens.revoke()


async def test_disabled_users_are_not_verified(db, tokens):
    raw, _ = await tokens.issue(email="dev@example.com", team="core")
    await User.filter(email="dev@example.com").update(disabled_at=utcnow())
    with pytest.raises(NotVerified):
        await tokens.authenticate(raw)


async def test_near_expiry_rotates_idempotently_and_the_old_token_overlaps(db, tokens, settings):
    raw, row = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(raw, timedelta(hours=settings.auth.rotate_before_expiry_hours - 1))
    first = await tokens.authenticate(raw)
    assert first.state is TokenState.NEAR_EXPIRY and first.replacement and TOKEN_PATTERN.match(first.replacement)
    again = await tokens.authenticate(raw)
    assert again.state is TokenState.ROTATED and again.replacement == first.replacement, (
        "same old token, same new token"
    )
    assert await ApiToken.filter(origin="rotation").count() == 1
    fresh = await tokens.authenticate(first.replacement)
    assert fresh.state is TokenState.VALID and fresh.principal.user_id == first.principal.user_id
    # The old token keeps working for the whole overlap window, then stops.
    overlap = timedelta(minutes=settings.auth.rotation_overlap_minutes)
    rotated_at = (await ApiToken.get(id=row.id)).rotated_at
    await tokens.authenticate(raw, now=rotated_at + overlap - timedelta(seconds=1))
    with pytest.raises(NotVerified):
        await tokens.authenticate(raw, now=rotated_at + overlap + timedelta(seconds=1))


async def test_concurrent_rotation_by_several_requests_creates_one_replacement(db, tokens, settings):
    raw, _ = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(raw, timedelta(minutes=5))
    results = await asyncio.gather(*(tokens.authenticate(raw) for _ in range(6)))
    assert len({r.replacement for r in results}) == 1
    assert await ApiToken.filter(origin="rotation").count() == 1


async def test_expired_tokens_refresh_inside_their_window_only(db, tokens, settings):
    raw, _ = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(raw, -timedelta(days=settings.auth.refresh_window_days) + timedelta(hours=1))
    auth = await tokens.authenticate(raw)
    assert auth.state is TokenState.EXPIRED_REFRESHABLE and auth.expired and auth.replacement

    late, _ = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(late, -timedelta(days=settings.auth.refresh_window_days, hours=1))
    with pytest.raises(NotVerified):
        await tokens.authenticate(late)
    # The local binary may ask for the longer grace period.
    graced = await tokens.authenticate(late, grace=True)
    assert graced.state is TokenState.EXPIRED_REFRESHABLE and graced.replacement
    beyond, _ = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(beyond, -timedelta(days=settings.auth.grace_period_days, hours=1))
    with pytest.raises(NotVerified):
        await tokens.authenticate(beyond, grace=True)


async def test_last_use_is_recorded_at_a_bounded_rate(db, tokens, settings):
    raw, row = await tokens.issue(email="dev@example.com", team="core")
    assert (await ApiToken.get(id=row.id)).last_used_at is None
    await tokens.authenticate(raw)
    first = (await ApiToken.get(id=row.id)).last_used_at
    assert first is not None
    await tokens.authenticate(raw)
    assert (await ApiToken.get(id=row.id)).last_used_at == first  # not rewritten on every request
    later = first + timedelta(seconds=settings.auth.last_used_resolution_s + 1)
    await tokens.authenticate(raw, now=later)
    assert (await ApiToken.get(id=row.id)).last_used_at == later


async def test_an_unreachable_token_store_is_auth_unavailable_not_not_verified(servers, redis_url):
    from app.db.connection import close_database, open_database
    from app.runtime.processes import free_port
    from tests.conftest import make_settings

    dead = f"postgres://postgres:x@127.0.0.1:{free_port()}/nowhere"
    settings = make_settings(dead, redis_url)
    await open_database(dead, settings.database)
    try:
        with pytest.raises(AuthUnavailable):
            await TokenService(settings.auth).authenticate("adj_" + "A" * 43)
    finally:
        await close_database()


async def rotated_pair(tokens, settings) -> tuple[str, str]:
    """A token A rotated into B, with A still inside its overlap window."""
    old, _ = await tokens.issue(email="dev@example.com", team="core")
    await set_expiry(old, timedelta(hours=settings.auth.rotate_before_expiry_hours - 1))
    new = (await tokens.authenticate(old)).replacement
    assert new is not None
    return old, new


async def test_revoking_the_old_token_of_a_rotation_revokes_its_replacement(db, tokens, settings):
    old, new = await rotated_pair(tokens, settings)
    bystander, _ = await tokens.issue(email="dev@example.com", team="core")
    assert await tokens.revoke(prefix=old[:12]) == 2
    for raw in (old, new):
        with pytest.raises(NotVerified):
            await tokens.authenticate(raw)
    await tokens.authenticate(bystander)  # another token of the same user is not part of the chain


async def test_revoking_the_replacement_stops_the_old_token_handing_it_out(db, tokens, settings):
    old, new = await rotated_pair(tokens, settings)
    assert (await tokens.authenticate(old)).replacement == new  # inside the overlap, before revocation
    assert await tokens.revoke(prefix=new[:12]) == 2
    for raw in (new, old):
        with pytest.raises(NotVerified):
            await tokens.authenticate(raw)


async def test_revoking_any_link_of_a_longer_chain_revokes_all_of_it(db, tokens, settings):
    first, second = await rotated_pair(tokens, settings)
    await set_expiry(second, timedelta(hours=settings.auth.rotate_before_expiry_hours - 1))
    third = (await tokens.authenticate(second)).replacement
    await tokens.revoke_raw(second)  # the middle one, as a logout would
    for raw in (first, second, third):
        with pytest.raises(NotVerified):
            await tokens.authenticate(raw)
    assert await ApiToken.filter(revoked_at__isnull=True).count() == 0


async def test_a_token_revoked_while_a_request_rotates_it_gets_no_replacement(db, tokens, settings):
    from app.db.repositories import identity

    raw, row = await tokens.issue(email="dev@example.com", team="core")
    seen = await identity.find_token(hash_token(raw))  # what a request read before the revocation landed
    await tokens.revoke(prefix=row.prefix)
    fields = tokens._token_fields(
        "adj_" + "B" * 43, user_id=row.user_id, team_id=row.team_id, name="", origin="rotation", now=utcnow()
    )
    assert await identity.record_rotation(seen, fields, utcnow()) is None
    assert await ApiToken.all().count() == 1
