"""Indexing into PostgreSQL: incremental by file hash, embedding cache, model changes, failures, progress."""

from __future__ import annotations

import pytest

from app.db.models import Chunk, CodeFile, Repository
from app.db.repositories.identity import get_or_create_team
from app.search.embeddings import Embedder
from app.search.indexer import index_repository
from tests.search.conftest import CountingEmbedder


async def run_index(root, embedder, *, team_id, name="shop", progress=None, max_files=1000, max_bytes=10**8):
    return await index_repository(
        root,
        team_id=team_id,
        name=name,
        source=str(root),
        source_kind="local",
        embedder=embedder,
        max_chunk_chars=1800,
        max_files=max_files,
        max_bytes=max_bytes,
        on_progress=progress,
    )


async def test_first_index_stores_every_file_and_chunk_with_vectors(db, working_copy, counting_embedder):
    team = await get_or_create_team("core")
    seen = []
    report = await run_index(
        working_copy, counting_embedder, team_id=team.id, progress=lambda p: seen.append(p.as_dict())
    )
    assert report.files == 5 and report.changed == 5 and report.chunks >= 5
    assert report.embedded == len(counting_embedder.texts) == report.chunks
    repo = await Repository.get(id=report.repository_id)
    assert (repo.status, repo.file_count, repo.chunk_count) == ("READY", 5, report.chunks)
    assert (repo.embedding_model, repo.embedding_dim) == ("all-MiniLM-L6-v2", 384)
    assert repo.progress["phase"] == "done" and repo.progress["files_done"] == 5
    chunks = await Chunk.filter(repository_id=repo.id).order_by("path", "start_line")
    assert {c.path for c in chunks} == {
        "src/billing/invoice.py",
        "src/net/http_client.py",
        "web/src/cart.ts",
        "server/users.go",
        "docs/README.md",
    }
    assert all(c.embedding_dim == 384 and c.team_id == team.id for c in chunks)
    invoice = [c for c in chunks if c.path == "src/billing/invoice.py"]
    assert any(c.symbols and c.symbols[0] == {"type": "class", "value": "Invoice"} for c in invoice)
    # Progress went up monotonically and ended on "done".
    done = [p["files_done"] for p in seen]
    assert done == sorted(done) and seen[-1]["phase"] == "done"


async def test_reindexing_is_incremental(db, working_copy, counting_embedder):
    team = await get_or_create_team("core")
    first = await run_index(working_copy, counting_embedder, team_id=team.id)

    counting_embedder.texts.clear()
    again = await run_index(working_copy, counting_embedder, team_id=team.id)
    assert (again.changed, again.deleted, again.embedded) == (0, 0, 0)
    assert counting_embedder.texts == [] and again.chunks == first.chunks

    # One edited file: only its new chunk text is embedded; its unchanged chunks come from the cache.
    client = working_copy / "src/net/http_client.py"
    client.write_text(client.read_text() + "\n\ndef close_connection(sock):\n    sock.close()\n")
    (working_copy / "docs/README.md").unlink()
    edited = await run_index(working_copy, counting_embedder, team_id=team.id)
    assert (edited.changed, edited.deleted, edited.files) == (1, 1, 4)
    assert 0 < edited.embedded <= 2 and all("close_connection" in t for t in counting_embedder.texts)
    assert not await CodeFile.filter(path="docs/README.md").exists()
    assert not await Chunk.filter(path="docs/README.md").exists()
    assert await Chunk.filter(text__contains="def close_connection").exists()


async def test_a_different_model_re_embeds_everything(db, working_copy, counting_embedder):
    team = await get_or_create_team("core")
    first = await run_index(working_copy, counting_embedder, team_id=team.id)
    other = CountingEmbedder(model="another-model")
    report = await run_index(working_copy, other, team_id=team.id)
    assert report.embedded == report.chunks == first.chunks and len(other.texts) == report.chunks
    repo = await Repository.get(id=report.repository_id)
    assert repo.embedding_model == "another-model"


class WrongDimension(Embedder):
    model = "broken"
    dimension = 384

    def embed(self, texts):
        return [[1.0] * 12 for _ in texts]


async def test_a_model_with_the_wrong_dimension_fails_the_index_and_says_why(db, working_copy):
    team = await get_or_create_team("core")
    with pytest.raises(ValueError, match="12 dimensions, expected 384"):
        await run_index(working_copy, WrongDimension(), team_id=team.id)
    repo = await Repository.get(team_id=team.id, name="shop")
    assert repo.status == "FAILED" and "12 dimensions" in repo.error
    assert await Chunk.filter(repository_id=repo.id).count() == 0


async def test_the_same_name_in_two_teams_is_two_indexes(db, working_copy, counting_embedder):
    core = await get_or_create_team("core")
    other = await get_or_create_team("other")
    a = await run_index(working_copy, counting_embedder, team_id=core.id)
    counting_embedder.texts.clear()
    b = await run_index(working_copy, counting_embedder, team_id=other.id)
    assert a.repository_id != b.repository_id
    # The embedding cache is per team: nothing of another team's code is reused (or revealed).
    assert b.embedded == b.chunks and len(counting_embedder.texts) == b.chunks
