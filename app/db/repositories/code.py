"""Repositories, files and chunks: the code-search store (full-text and pgvector queries live here)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import Chunk, CodeFile, Repository
from app.db.repositories import graph as graph_rows
from app.db.repositories.chat import now

INDEXED_DIMENSIONS = {384, 1536}  # dimensions with an HNSW expression index (migrations 0001, 0006)
ACTIVE = ("PENDING", "CLONING", "INDEXING")  # a job is queued or running


async def get_or_create_repository(*, team_id: int, name: str, source: str, source_kind: str) -> Repository:
    repo = await Repository.get_or_none(team_id=team_id, name=name)
    if repo is None:
        try:
            return await Repository.create(team_id=team_id, name=name, source=source, source_kind=source_kind)
        except IntegrityError:  # created concurrently
            repo = await Repository.get(team_id=team_id, name=name)
    if repo.source != source or repo.source_kind != source_kind:
        await Repository.filter(id=repo.id).update(source=source, source_kind=source_kind)
        repo.source, repo.source_kind = source, source_kind
    return repo


async def claim_index_job(
    *, team_id: int, name: str, source: str, source_kind: str, force: bool, source_credentials: str | None = None
) -> tuple[Repository, bool]:
    """Claim one new indexing job for the repository (created if new): (the row, True) with the row PENDING
    for it, or (the row unchanged, False) when a job is already queued or running, or a concurrent request
    claimed it first.

    The claim is one conditional update, so of two concurrent requests exactly one wins. `force` claims a
    row whose job seems lost, but only against the job this request saw (of forced requests that saw the
    same job, one wins); the job it replaces finds itself superseded and does nothing.
    """
    job = uuid.uuid4().hex
    fields = {
        "source": source,
        "source_credentials": source_credentials,
        "source_kind": source_kind,
        "status": "PENDING",
        "progress": None,
        "error": None,
    }
    existing = await Repository.get_or_none(team_id=team_id, name=name)
    if existing is None:
        try:
            return await Repository.create(team_id=team_id, name=name, index_job=job, **fields), True
        except IntegrityError:  # another request created (and so claimed) it a moment ago
            return await Repository.get(team_id=team_id, name=name), False
    query = Repository.filter(id=existing.id)
    if force:
        query = query.filter(index_job=existing.index_job) if existing.index_job else query.filter(index_job=None)
    else:
        query = query.exclude(status__in=ACTIVE)
    claimed = bool(await query.update(index_job=job, **fields))
    return await Repository.get(id=existing.id), claimed


async def repository(repo_id: int) -> Repository | None:
    return await Repository.get_or_none(id=repo_id)


async def replace_source(repo_id: int, *, source: str, source_credentials: str | None) -> None:
    await Repository.filter(id=repo_id).update(source=source, source_credentials=source_credentials)


async def fail_index_job(repo_id: int, job: str | None, error: str) -> bool:
    """Mark the row FAILED if it still waits for `job` (None: whatever job it waits for); True if it did."""
    query = Repository.filter(id=repo_id, status__in=ACTIVE)
    if job is not None:
        query = query.filter(index_job=job)
    return bool(await query.update(status="FAILED", error=error))


async def save_progress(repo_id: int, snapshot: dict[str, Any]) -> None:
    await Repository.filter(id=repo_id).update(progress=snapshot)


async def list_repositories(team_id: int) -> list[Repository]:
    return await Repository.filter(team_id=team_id).order_by("name")


async def repositories_named(team_id: int, names: Sequence[str]) -> list[Repository]:
    return await Repository.filter(team_id=team_id, name__in=list(names))


async def set_status(repo_id: int, status: str, **fields: Any) -> None:
    await Repository.filter(id=repo_id).update(status=status, **fields)


async def file_hashes(repo_id: int) -> dict[str, tuple[int, str]]:
    rows = await CodeFile.filter(repository_id=repo_id).values_list("path", "id", "content_hash")
    return {path: (file_id, content_hash) for path, file_id, content_hash in rows}


async def delete_files(repo_id: int, paths: Sequence[str]) -> None:
    if paths:
        await CodeFile.filter(repository_id=repo_id, path__in=list(paths)).delete()  # chunks cascade


async def cached_embeddings(team_id: int, model: str, hashes: Sequence[str]) -> dict[str, list[float]]:
    """Embeddings already computed for identical chunks with the same model (content-hash cache)."""
    if not hashes:
        return {}
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT DISTINCT ON (c.content_hash) c.content_hash, c.embedding FROM chunks c "
        "JOIN repositories r ON r.id = c.repository_id "
        "WHERE c.team_id = $1 AND r.embedding_model = $2 AND c.content_hash = ANY($3::text[]) "
        "AND c.embedding IS NOT NULL",
        [team_id, model, list(hashes)],
    )
    return {row["content_hash"]: [float(x) for x in row["embedding"].to_list()] for row in rows}


@dataclass
class ChunkRow:
    path: str
    start_line: int
    end_line: int
    language: str
    symbol: str | None
    symbols: list[dict[str, Any]]
    text: str
    search_text: str
    content_hash: str
    embedding: list[float] | None


async def replace_file(
    *,
    team_id: int,
    repo_id: int,
    path: str,
    content_hash: str,
    language: str,
    size: int,
    chunks: list[ChunkRow],
    graph: graph_rows.FileGraphRows | None = None,
) -> None:
    """Store one file, its chunks and its symbol graph atomically, replacing what was there."""
    async with in_transaction():
        await CodeFile.filter(repository_id=repo_id, path=path).delete()
        file = await CodeFile.create(
            team_id=team_id,
            repository_id=repo_id,
            path=path,
            content_hash=content_hash,
            language=language,
            size_bytes=size,
        )
        await Chunk.bulk_create(
            [
                Chunk(
                    team_id=team_id,
                    repository_id=repo_id,
                    file_id=file.id,
                    path=c.path,
                    start_line=c.start_line,
                    end_line=c.end_line,
                    language=c.language,
                    symbol=c.symbol,
                    symbols=c.symbols,
                    text=c.text,
                    search_text=c.search_text,
                    content_hash=c.content_hash,
                    embedding=c.embedding,
                    embedding_dim=len(c.embedding) if c.embedding is not None else None,
                )
                for c in chunks
            ]
        )
        if graph is not None:
            await graph_rows.insert_file_graph(
                team_id=team_id, repo_id=repo_id, file_id=file.id, path=path, graph=graph
            )


async def finish_index(repo_id: int, *, model: str, dimension: int) -> tuple[int, int]:
    files = await CodeFile.filter(repository_id=repo_id).count()
    chunks = await Chunk.filter(repository_id=repo_id).count()
    await Repository.filter(id=repo_id).update(
        status="READY",
        file_count=files,
        chunk_count=chunks,
        indexed_at=now(),
        embedding_model=model,
        embedding_dim=dimension,
        error=None,
    )
    return files, chunks


def _filters(
    start: int, repo_ids: Sequence[int], path_prefix: str | None, language: str | None
) -> tuple[str, list[Any]]:
    clauses = [f"c.repository_id = ANY(${start}::bigint[])"]
    args: list[Any] = [list(repo_ids)]
    if path_prefix:
        args.append(path_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        clauses.append(f"c.path LIKE ${start + len(args) - 1}")
    if language:
        args.append(language)
        clauses.append(f"c.language = ${start + len(args) - 1}")
    return " AND ".join(clauses), args


COLUMNS = "c.id, c.repository_id, c.path, c.start_line, c.end_line, c.language, c.symbol, c.symbols, c.text"
NAMES = COLUMNS.replace("c.", "")


async def full_text(
    tsquery: str, repo_ids: Sequence[int], *, limit: int, path_prefix: str | None = None, language: str | None = None
) -> list[dict[str, Any]]:
    where, args = _filters(2, repo_ids, path_prefix, language)
    sql = (
        # ts_rank (term frequency, length-normalised), not ts_rank_cd: cover density rewards chunks where
        # all terms sit close together, which an OR of a sentence's words rarely has (measured on
        # bench/search_eval.py: MRR@10 0.59 vs 0.30).
        f"SELECT {COLUMNS}, ts_rank(c.tsv, q, 1) AS score FROM chunks c, to_tsquery('simple', $1) q "
        f"WHERE c.tsv @@ q AND {where} ORDER BY score DESC, c.id LIMIT {int(limit)}"
    )
    return await Tortoise.get_connection("default").execute_query_dict(sql, [tsquery, *args])


async def nearest(
    vector: list[float],
    repo_ids: Sequence[int],
    *,
    limit: int,
    ef_search: int,
    path_prefix: str | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    dimension = len(vector)
    where, args = _filters(2, repo_ids, path_prefix, language)
    # The HNSW index is on the expression embedding::vector(384) for rows of that dimension: match it.
    column = f"c.embedding::vector({dimension})" if dimension in INDEXED_DIMENSIONS else "c.embedding"
    # HNSW finds ef_search neighbours first and filters after; with a selective filter (one repository of
    # many, a path prefix) that leaves too few rows, so the scan continues iteratively (pgvector 0.8), in
    # relaxed order, and the outer query restores the exact order.
    sql = (
        f"WITH hits AS MATERIALIZED (SELECT {COLUMNS}, {column} <=> $1::vector({dimension}) AS distance "
        f"FROM chunks c WHERE c.embedding_dim = {dimension} AND {where} "
        f"ORDER BY distance LIMIT {int(limit)}) "
        "SELECT *, 1 - distance AS score FROM hits ORDER BY distance, id"
    )
    async with in_transaction() as connection:
        await connection.execute_query(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        await connection.execute_query("SET LOCAL hnsw.iterative_scan = relaxed_order")
        return await connection.execute_query_dict(sql, [vector, *args])


def _vector_column(dimension: int) -> str:
    # The HNSW index is on the expression embedding::vector(384) for rows of that dimension: match it.
    return f"c.embedding::vector({dimension})" if dimension in INDEXED_DIMENSIONS else "c.embedding"


async def candidates(
    tsquery: str | None,
    vector: list[float] | None,
    repo_ids: Sequence[int],
    vector_repo_ids: Sequence[int],
    *,
    limit: int,
    ef_search: int,
    path_prefix: str | None = None,
    language: str | None = None,
    match: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Full-text and nearest-vector candidates in one statement (one round trip): {"fts": rows best first,
    "vector": rows nearest first}; a method whose input is None (or whose repositories are none) is left out.
    Full text ranks by `tsquery` the rows that match `match` (default: `tsquery` too).
    Rows carry COLUMNS and `score` (ts_rank, or cosine similarity)."""
    branches: list[str] = []
    ctes: list[str] = []
    args: list[Any] = []
    if tsquery is not None and repo_ids:
        args.append(tsquery)
        matched = "q"
        if match is not None and match != tsquery:
            args.append(match)
            matched = f"to_tsquery('simple', ${len(args)})"
        where, extra = _filters(len(args) + 1, repo_ids, path_prefix, language)
        args.extend(extra)
        ctes.append(
            # ts_rank, not ts_rank_cd: see full_text.
            f"fts AS MATERIALIZED (SELECT {COLUMNS}, ts_rank(c.tsv, q, 1)::float8 AS score "
            f"FROM chunks c, to_tsquery('simple', $1) q WHERE c.tsv @@ {matched} AND {where} "
            f"ORDER BY score DESC, c.id LIMIT {int(limit)})"
        )
        branches.append(
            f"SELECT 'fts' AS method, row_number() OVER (ORDER BY score DESC, id) AS position, {NAMES}, score FROM fts"
        )
    if vector is not None and vector_repo_ids:
        dimension = len(vector)
        args.append(vector)
        vector_arg = len(args)
        where, extra = _filters(len(args) + 1, vector_repo_ids, path_prefix, language)
        args.extend(extra)
        # The settings `nearest` takes with two SET LOCALs, here inside the statement: a condition without
        # columns becomes a one-time filter that PostgreSQL checks before the index scan starts, so the scan
        # reads them; `true` scopes them to this statement's transaction. See `nearest` for why iterative.
        settings = (
            f"(SELECT set_config('hnsw.ef_search', '{int(ef_search)}', true) || "
            "set_config('hnsw.iterative_scan', 'relaxed_order', true)) IS NOT NULL"
        )
        distance = f"{_vector_column(dimension)} <=> ${vector_arg}::vector({dimension})"
        ctes.append(
            f"vec AS MATERIALIZED (SELECT {COLUMNS}, {distance} AS distance FROM chunks c "
            f"WHERE {settings} AND c.embedding_dim = {dimension} AND {where} "
            f"ORDER BY distance LIMIT {int(limit)})"
        )
        branches.append(
            "SELECT 'vector' AS method, row_number() OVER (ORDER BY distance, id) AS position, "
            f"{NAMES}, 1 - distance AS score FROM vec"
        )
    found: dict[str, list[dict[str, Any]]] = {}
    if not branches:
        return found
    sql = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(f"({b})" for b in branches) + " ORDER BY method, position"
    for row in await Tortoise.get_connection("default").execute_query_dict(sql, args):
        method = row.pop("method")
        row.pop("position")
        found.setdefault(method, []).append(row)
    if tsquery is not None and repo_ids:
        found.setdefault("fts", [])
    if vector is not None and vector_repo_ids:
        found.setdefault("vector", [])
    return found
