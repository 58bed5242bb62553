"""Every id a client sends is checked against the caller; foreign and missing rows are indistinguishable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import pytest

from app.db.models import ChatElement, Repository, Session, Team, User
from app.db.ownership import get_owned, parse_id
from app.errors import NotFound, SessionNotFound


@dataclass
class Caller:
    user_id: int
    team_id: int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, 1),
        ("42", 42),
        (" 7 ", 7),
        (2**53 - 1, 2**53 - 1),
        (0, None),
        (-3, None),
        ("-3", None),
        ("abc", None),
        ("1.5", None),
        (1.0, None),
        (True, None),
        (None, None),
        (2**53, None),
        ("", None),
        ([1], None),
        ("²", None),  # str.isdigit() says yes, int() raises
        ("١٢", None),  # int() would accept these digits; ids are ASCII
        ("𝟙", None),
        ("9223372036854775808", None),
        ("1" * 5000, None),  # beyond int()'s digit limit
        ("9007199254740991", 2**53 - 1),
    ],
)
def test_wire_ids_are_positive_integers_below_2_53(raw, expected):
    assert parse_id(raw) == expected


@pytest.fixture
async def world(db):
    team = await Team.create(name="core")
    other_team = await Team.create(name="other")
    alice = await User.create(email="alice@example.com", name="Alice")
    bob = await User.create(email="bob@example.com", name="Bob")
    session = await Session.create(team=team, user=alice, session_type="VSCODE_EXT_SESSION", summary="mine")
    element = await ChatElement.create(team=team, session=session, actor="USER", message_type="TEXT", payload={})
    repo = await Repository.create(team=team, name="shared", source="/src", source_kind="local")
    return {
        "alice": Caller(alice.id, team.id),
        "bob_same_team": Caller(bob.id, team.id),
        "alice_other_team": Caller(alice.id, other_team.id),
        "session": session,
        "element": element,
        "repo": repo,
    }


async def test_the_owner_gets_the_row(world):
    row = await get_owned(Session, str(world["session"].id), world["alice"], not_found=SessionNotFound)
    assert row.id == world["session"].id


@pytest.mark.parametrize("intruder", ["bob_same_team", "alice_other_team"])
async def test_personal_rows_are_hidden_from_everyone_else_exactly_like_missing_ones(world, intruder):
    with pytest.raises(SessionNotFound) as foreign:
        await get_owned(Session, world["session"].id, world[intruder], not_found=SessionNotFound)
    with pytest.raises(SessionNotFound) as missing:
        await get_owned(Session, world["session"].id + 1000, world["alice"], not_found=SessionNotFound)
    assert (foreign.value.code, foreign.value.http_status, foreign.value.detail) == (
        missing.value.code,
        missing.value.http_status,
        missing.value.detail,
    )


async def test_rows_reached_through_a_session_follow_the_session_owner(world):
    assert (await get_owned(ChatElement, world["element"].id, world["alice"])).id == world["element"].id
    with pytest.raises(NotFound):
        await get_owned(ChatElement, world["element"].id, world["bob_same_team"])


async def test_team_rows_are_shared_within_the_team_only(world):
    assert (await get_owned(Repository, world["repo"].id, world["bob_same_team"])).id == world["repo"].id
    with pytest.raises(NotFound):
        await get_owned(Repository, world["repo"].id, world["alice_other_team"])


async def test_deleted_rows_are_not_found(world):
    from datetime import datetime

    await Session.filter(id=world["session"].id).update(deleted_at=datetime.now(UTC))
    with pytest.raises(SessionNotFound):
        await get_owned(Session, world["session"].id, world["alice"], not_found=SessionNotFound)
    row = await get_owned(Session, world["session"].id, world["alice"], include_deleted=True)
    assert row.deleted_at is not None


@pytest.mark.parametrize("raw", ["abc", 0, -1, None, "1; DROP TABLE sessions"])
async def test_malformed_ids_are_not_found(world, raw):
    with pytest.raises(SessionNotFound):
        await get_owned(Session, raw, world["alice"], not_found=SessionNotFound)
