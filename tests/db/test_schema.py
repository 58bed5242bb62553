"""Behaviour the schema itself guarantees: pgvector round trips and search, full-text, and the constraints
that keep bad rows out no matter which code path writes them."""

from __future__ import annotations

import math

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from app.db.models import Chunk, CodeFile, Repository, Session, Step, Team, User, UserQuery


async def make_owner() -> tuple[Team, User]:
    team = await Team.create(name="core")
    user = await User.create(email="dev@example.com", name="Dev")
    return team, user


async def make_file(team: Team) -> tuple[Repository, CodeFile]:
    repo = await Repository.create(team=team, name="repo", source="/src", source_kind="local")
    file = await CodeFile.create(team=team, repository=repo, path="a.py", content_hash="0" * 64, size_bytes=10)
    return repo, file


async def make_chunk(**fields: object) -> Chunk:
    """A chunk in a fresh repository; `fields` override the defaults."""
    team, _ = await make_owner()
    repo, file = await make_file(team)
    values: dict[str, object] = {
        "path": "a.py",
        "start_line": 1,
        "end_line": 1,
        "text": "x",
        "search_text": "x",
        "content_hash": "h",
    }
    return await Chunk.create(team=team, repository=repo, file=file, **(values | fields))


async def make_query() -> tuple[Team, Session, UserQuery]:
    team, user = await make_owner()
    session = await Session.create(team=team, user=user, session_type="VSCODE_EXT_SESSION", summary="s")
    query = await UserQuery.create(team=team, user=user, session=session, text="hi", model="m", fingerprint="f")
    return team, session, query


def unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


async def test_vectors_round_trip_and_rank_by_cosine_distance(db):
    team, _ = await make_owner()
    repo, file = await make_file(team)
    near = unit([1.0] + [0.0] * 383)
    far = unit([0.0, 1.0] + [0.0] * 382)
    for name, vector in (("near", near), ("far", far)):
        await Chunk.create(
            team=team,
            repository=repo,
            file=file,
            path="a.py",
            start_line=1,
            end_line=2,
            text=name,
            search_text=name,
            content_hash="h",
            embedding=vector,
            embedding_dim=384,
        )
    stored = await Chunk.get(text="near")
    assert stored.embedding == pytest.approx(near, abs=1e-6)
    query = unit([0.9, 0.1] + [0.0] * 382)
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT text FROM chunks WHERE embedding_dim = 384 ORDER BY embedding::vector(384) <=> $1::vector(384) LIMIT 2",
        [query],
    )
    assert [r["text"] for r in rows] == ["near", "far"]


async def test_full_text_column_is_generated_from_search_text(db):
    await make_chunk(text="def parseConfig(): ...", search_text="def parse config parseConfig")
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT path FROM chunks WHERE tsv @@ plainto_tsquery('simple', $1)", ["parse config"]
    )
    assert [r["path"] for r in rows] == ["a.py"]


async def test_embedding_dimension_must_match_its_declared_size(db):
    with pytest.raises(IntegrityError):
        await make_chunk(embedding=[0.1, 0.2, 0.3], embedding_dim=384)


async def test_a_session_has_at_most_one_running_step(db):
    team, session, query = await make_query()
    await Step.create(team=team, session=session, user_query=query, stream_id="a" * 32, ordinal=1)
    with pytest.raises(IntegrityError):
        await Step.create(team=team, session=session, user_query=query, stream_id="b" * 32, ordinal=2)
    await Step.filter(stream_id="a" * 32).update(status="COMPLETED")
    await Step.create(team=team, session=session, user_query=query, stream_id="b" * 32, ordinal=2)


async def test_stream_ids_must_be_32_lowercase_hex(db):
    team, session, query = await make_query()
    with pytest.raises(IntegrityError):
        await Step.create(team=team, session=session, user_query=query, stream_id="Z" * 32, ordinal=1)
