"""The knowledge store's queries: sources, documents and their chunks (full-text and pgvector), import runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import KnowledgeChunk, KnowledgeDocument, KnowledgeImport, KnowledgeSource
from app.db.repositories.chat import now

INDEXED_DIMENSIONS = {384, 1536}  # dimensions with an HNSW expression index (migration 0020)


# --- sources ------------------------------------------------------------------------------------------------


async def get_or_create_source(*, team_id: int, kind: str, name: str, config: dict[str, Any]) -> KnowledgeSource:
    """The team's source of that name, its config replaced by this one; a name of another kind is refused by
    the caller (see `app.knowledge.sources`)."""
    source = await KnowledgeSource.get_or_none(team_id=team_id, name=name)
    if source is None:
        try:
            return await KnowledgeSource.create(team_id=team_id, kind=kind, name=name, config=config)
        except IntegrityError:  # created concurrently
            source = await KnowledgeSource.get(team_id=team_id, name=name)
    if source.kind == kind and source.config != config:
        await KnowledgeSource.filter(id=source.id).update(config=config)
        source.config = config
    return source


async def team_source(team_id: int, source_id: int) -> KnowledgeSource | None:
    return await KnowledgeSource.get_or_none(id=source_id, team_id=team_id)


async def team_sources(team_id: int) -> list[KnowledgeSource]:
    return await KnowledgeSource.filter(team_id=team_id).order_by("name")


async def refresh_counts(source_id: int) -> tuple[int, int]:
    documents = await KnowledgeDocument.filter(source_id=source_id).count()
    chunks = await KnowledgeChunk.filter(source_id=source_id).count()
    await KnowledgeSource.filter(id=source_id).update(
        document_count=documents, chunk_count=chunks, last_imported_at=now()
    )
    return documents, chunks


# --- documents and chunks -----------------------------------------------------------------------------------


async def document_hashes(source_id: int, external_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """external id -> (content hash, embedding model) of the documents already stored."""
    rows = await KnowledgeDocument.filter(source_id=source_id, external_id__in=list(external_ids)).values_list(
        "external_id", "content_hash", "embedding_model"
    )
    return {external_id: (content_hash, model) for external_id, content_hash, model in rows}


async def cached_embeddings(team_id: int, model: str, hashes: Sequence[str]) -> dict[str, list[float]]:
    """Vectors already computed by `model` for chunks with the same embedded text (a re-import of an edited
    page re-embeds only its changed chunks)."""
    if not hashes:
        return {}
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT DISTINCT ON (content_hash) content_hash, embedding FROM knowledge_chunks "
        "WHERE team_id = $1 AND embedding_model = $2 AND content_hash = ANY($3::text[]) AND embedding IS NOT NULL",
        [team_id, model, list(hashes)],
    )
    return {row["content_hash"]: [float(x) for x in row["embedding"].to_list()] for row in rows}


@dataclass
class ChunkRow:
    position: int
    kind: str
    language: str | None
    section: str | None
    text: str
    search_text: str
    content_hash: str
    embedding: list[float] | None


@dataclass
class DocumentRow:
    external_id: str
    kind: str
    title: str
    url: str | None
    meta: dict[str, Any]
    content_hash: str


async def replace_document(
    *, team_id: int, source_id: int, document: DocumentRow, chunks: list[ChunkRow], model: str
) -> None:
    """Store one document and its chunks atomically, replacing what the same external id had."""
    try:
        await _replace(team_id, source_id, document, chunks, model)
    except IntegrityError:  # another import of the source created it a moment ago: replace that one
        await _replace(team_id, source_id, document, chunks, model)


async def _replace(team_id: int, source_id: int, document: DocumentRow, chunks: list[ChunkRow], model: str) -> None:
    async with in_transaction():
        existing = await KnowledgeDocument.get_or_none(source_id=source_id, external_id=document.external_id)
        fields = {
            "kind": document.kind,
            "title": document.title,
            "url": document.url,
            "meta": document.meta,
            "content_hash": document.content_hash,
            "embedding_model": model,
        }
        if existing is None:
            row = await KnowledgeDocument.create(
                team_id=team_id, source_id=source_id, external_id=document.external_id, **fields
            )
        else:
            row = existing
            await KnowledgeDocument.filter(id=row.id).update(updated_at=now(), **fields)
            await KnowledgeChunk.filter(document_id=row.id).delete()
        await KnowledgeChunk.bulk_create(
            [
                KnowledgeChunk(
                    team_id=team_id,
                    source_id=source_id,
                    document_id=row.id,
                    position=c.position,
                    kind=c.kind,
                    language=c.language,
                    section=c.section,
                    text=c.text,
                    search_text=c.search_text,
                    content_hash=c.content_hash,
                    embedding=c.embedding,
                    embedding_dim=len(c.embedding) if c.embedding is not None else None,
                    embedding_model=model if c.embedding is not None else None,
                )
                for c in chunks
            ]
        )


async def prune_documents(source_id: int, keep: Sequence[str]) -> int:
    """Remove the source's documents not among `keep` (a page deleted since the last full import)."""
    return await KnowledgeDocument.filter(source_id=source_id).exclude(external_id__in=list(keep)).delete()


COLUMNS = (
    "c.id, c.kind, c.language, c.section, c.text, d.title, d.url, d.meta, d.external_id, "
    "s.name AS source, s.kind AS source_kind"
)
FROM = (
    "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id "
    "JOIN knowledge_sources s ON s.id = c.source_id"
)


async def full_text(tsquery: str, team_id: int, kinds: Sequence[str], *, limit: int) -> list[dict[str, Any]]:
    sql = (
        f"SELECT {COLUMNS}, ts_rank(c.tsv, q, 1) AS score {FROM}, to_tsquery('simple', $1) q "
        f"WHERE c.tsv @@ q AND c.team_id = $2 AND c.kind = ANY($3::text[]) ORDER BY score DESC, c.id LIMIT {int(limit)}"
    )
    return await Tortoise.get_connection("default").execute_query_dict(sql, [tsquery, team_id, list(kinds)])


async def nearest(
    vector: list[float], team_id: int, kinds: Sequence[str], *, model: str, limit: int, ef_search: int
) -> list[dict[str, Any]]:
    dimension = len(vector)
    column = f"c.embedding::vector({dimension})" if dimension in INDEXED_DIMENSIONS else "c.embedding"
    # As for code chunks: the team filter is applied after the HNSW scan, so the scan continues iteratively
    # until enough rows pass, and the outer query restores the exact order.
    sql = (
        f"WITH hits AS MATERIALIZED (SELECT c.id, {column} <=> $1::vector({dimension}) AS distance "
        f"FROM knowledge_chunks c WHERE c.embedding_dim = {dimension} AND c.team_id = $2 "
        f"AND c.kind = ANY($3::text[]) AND c.embedding_model = $4 ORDER BY distance LIMIT {int(limit)}) "
        f"SELECT {COLUMNS}, 1 - h.distance AS score FROM hits h JOIN knowledge_chunks c ON c.id = h.id "
        "JOIN knowledge_documents d ON d.id = c.document_id JOIN knowledge_sources s ON s.id = c.source_id "
        "ORDER BY h.distance, c.id"
    )
    async with in_transaction() as connection:
        await connection.execute_query(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        await connection.execute_query("SET LOCAL hnsw.iterative_scan = relaxed_order")
        return await connection.execute_query_dict(sql, [vector, team_id, list(kinds), model])


# --- imports ------------------------------------------------------------------------------------------------


async def create_import(*, team_id: int, source_id: int, requested_by_id: int | None) -> KnowledgeImport:
    return await KnowledgeImport.create(team_id=team_id, source_id=source_id, requested_by_id=requested_by_id)


async def import_row(import_id: int) -> KnowledgeImport | None:
    return await KnowledgeImport.get_or_none(id=import_id)


async def team_import(team_id: int, import_id: int) -> KnowledgeImport | None:
    return await KnowledgeImport.get_or_none(id=import_id, team_id=team_id)


async def team_imports(team_id: int, *, limit: int = 50) -> list[KnowledgeImport]:
    return await KnowledgeImport.filter(team_id=team_id).order_by("-id").limit(limit)


async def update_import(import_id: int, **fields: Any) -> None:
    await KnowledgeImport.filter(id=import_id).update(**fields)


async def sources_by_id(team_id: int, ids: Sequence[int]) -> dict[int, KnowledgeSource]:
    return {s.id: s for s in await KnowledgeSource.filter(team_id=team_id, id__in=list(ids))}
