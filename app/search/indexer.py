"""Indexing a working copy: discover files, skip unchanged ones by content hash, chunk and embed the rest
(reusing embeddings of identical chunks), drop deleted files, and report progress along the way.

CPU-heavy steps (reading, parsing, embedding) run in worker threads so an event loop serving requests
stays responsive while a repository indexes in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
from tortoise.exceptions import BaseORMException

from app.db.repositories import chunk_stats
from app.db.repositories import code as store
from app.errors import AdjutantError, IndexingFailed
from app.runtime.redaction import redact_url
from app.search.chunker import Chunk, chunk_file, indexed_file_hash
from app.search.embeddings import Embedder
from app.search.files import LoadedFile, SourceFile, discover, load
from app.search.graph.store import file_graph_rows

log = logging.getLogger("adjutant.search")
EMBED_BATCH_CHUNKS = 64  # chunks embedded per round trip to the model (files are written after each round)
LOAD_BATCH_FILES = 64  # files read and hashed per worker-thread hop (an unchanged file costs only this)


@dataclass
class Progress:
    phase: str = "scanning"
    files_total: int = 0
    files_done: int = 0
    files_changed: int = 0
    files_deleted: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    started: float = field(default_factory=time.monotonic)

    def eta_s(self) -> float | None:
        if self.files_done == 0 or self.files_total == 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.files_done * (self.files_total - self.files_done)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("started")
        data["elapsed_s"] = round(time.monotonic() - self.started, 2)
        eta = self.eta_s()
        data["eta_s"] = round(eta, 1) if eta is not None else None
        return data


@dataclass(frozen=True)
class IndexReport:
    repository_id: int
    files: int
    chunks: int
    changed: int
    deleted: int
    embedded: int
    reused: int
    seconds: float


ProgressCallback = Callable[[Progress], None]


async def index_repository(
    root: Path,
    *,
    team_id: int,
    name: str,
    source: str,
    source_kind: str,
    embedder: Embedder,
    max_chunk_chars: int,
    max_files: int,
    max_bytes: int,
    on_progress: ProgressCallback | None = None,
) -> IndexReport:
    """Bring the index of `root` up to date; past `max_files` or `max_bytes` of indexable files it fails
    before changing anything."""
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    repo = await store.get_or_create_repository(team_id=team_id, name=name, source=source, source_kind=source_kind)
    progress = Progress()
    notify = on_progress or (lambda _: None)
    await store.set_status(repo.id, "INDEXING", error=None)
    try:
        if repo.embedding_model and (
            repo.embedding_model != embedder.model or repo.embedding_dim != embedder.dimension
        ):
            # One model and dimension per index: a different model means re-embedding everything.
            await store.delete_files(repo.id, list(await store.file_hashes(repo.id)))
        files = await asyncio.to_thread(_bounded_files, root, max_files, max_bytes)
        stored = await store.file_hashes(repo.id)
        progress.files_total = len(files)
        deleted = sorted(set(stored) - {f.path for f in files})
        await store.delete_files(repo.id, deleted)
        progress.files_deleted = len(deleted)
        progress.phase = "indexing"
        notify(progress)
        writer = _Writer(repo.id, team_id, embedder, progress)
        pending: list[tuple[LoadedFile, list[Chunk]]] = []
        try:
            for batch in _batches(files, LOAD_BATCH_FILES):
                for source_file, loaded in zip(batch, await asyncio.to_thread(_load_all, batch), strict=True):
                    previous = stored.get(source_file.path)
                    if loaded is None or (
                        previous is not None and previous[1] == indexed_file_hash(loaded.content_hash)
                    ):
                        if loaded is None and previous is not None:
                            await store.delete_files(repo.id, [source_file.path])  # became binary or generated
                        progress.files_done += 1
                        continue
                    chunks = await asyncio.to_thread(
                        chunk_file, source_file.path, loaded.text, source_file.language, max_chars=max_chunk_chars
                    )
                    pending.append((loaded, chunks))
                    if sum(len(c) for _, c in pending) >= EMBED_BATCH_CHUNKS:
                        await writer.submit(pending)
                        pending = []
                    notify(progress)
                notify(progress)
            if pending:
                await writer.submit(pending)
            await writer.drain()
        finally:
            await writer.close()
        files_count, chunks_count = await store.finish_index(
            repo.id, model=embedder.model, dimension=embedder.dimension
        )
        progress.phase = "done"
        notify(progress)
        await store.set_status(repo.id, "READY", progress=progress.as_dict())
    except BaseException as exc:
        reason = exc.detail if isinstance(exc, AdjutantError) else f"{exc.__class__.__name__}: {exc}"
        await store.set_status(repo.id, "FAILED", error=redact_url(reason)[:2000], progress=progress.as_dict())
        raise
    await _refresh_statistics(progress.chunks)
    return IndexReport(
        repo.id,
        files_count,
        chunks_count,
        progress.files_changed,
        progress.files_deleted,
        progress.embedded,
        progress.reused,
        round(time.monotonic() - progress.started, 2),
    )


async def _refresh_statistics(written: int) -> None:
    """Refresh the planner's statistics after a large write: full-text search reads from them which words
    are too common to search for. The index is already READY; a failure here only delays that."""
    try:
        await chunk_stats.analyze_after_write(written)
    except (BaseORMException, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning("ANALYZE of chunks after indexing failed: %s", exc.__class__.__name__)


def _bounded_files(root: Path, max_files: int, max_bytes: int) -> list[SourceFile]:
    files: list[SourceFile] = []
    total = 0
    for source_file in discover(root):
        files.append(source_file)
        total += source_file.size
        if len(files) > max_files:
            raise IndexingFailed(
                f"the repository has more than {max_files} indexable files (search.max_repository_files)"
            )
        if total > max_bytes:
            raise IndexingFailed(
                f"the repository has more than {max_bytes // 2**20} MiB of indexable files "
                "(search.max_repository_bytes)"
            )
    return files


def _batches(items: list[SourceFile], size: int) -> list[list[SourceFile]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _load_all(files: list[SourceFile]) -> list[LoadedFile | None]:
    return [load(f) for f in files]


class _Writer:
    """Embeds each round of chunks and writes its files while the next round is read, chunked and embedded:
    the model (CPU) and the database writes (I/O) overlap instead of taking turns. At most one round is
    being written at a time, so memory stays bounded and files land in order."""

    def __init__(self, repo_id: int, team_id: int, embedder: Embedder, progress: Progress) -> None:
        self.repo_id, self.team_id, self.embedder, self.progress = repo_id, team_id, embedder, progress
        self.writing: asyncio.Task[None] | None = None
        # The round being written is not in the database yet: its vectors are reused from here.
        self.previous: dict[str, list[float]] = {}

    async def submit(self, pending: list[tuple[LoadedFile, list[Chunk]]]) -> None:
        vectors = await _embeddings(pending, self.team_id, self.embedder, self.progress, self.previous)
        self.previous = vectors
        await self.drain()
        self.writing = asyncio.create_task(_write(pending, vectors, self.repo_id, self.team_id, self.progress))

    async def drain(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await writing

    async def close(self) -> None:
        """Stop a write still running (indexing failed elsewhere); its file's transaction rolls back."""
        if self.writing is not None:
            self.writing.cancel()
            with contextlib.suppress(BaseException):
                await self.writing


async def _embeddings(
    pending: list[tuple[LoadedFile, list[Chunk]]],
    team_id: int,
    embedder: Embedder,
    progress: Progress,
    known: dict[str, list[float]],
) -> dict[str, list[float]]:
    """Vectors by chunk hash for every chunk of `pending`: reused from `known` or the team's index, or
    embedded."""
    all_chunks = [chunk for _, chunks in pending for chunk in chunks]
    cached = {c.content_hash: known[c.content_hash] for c in all_chunks if c.content_hash in known}
    lookup = [c.content_hash for c in all_chunks if c.content_hash not in cached]
    cached |= await store.cached_embeddings(team_id, embedder.model, lookup)
    missing = list({c.content_hash: c for c in all_chunks if c.content_hash not in cached}.values())
    if missing:
        vectors = await asyncio.to_thread(embedder.embed, [c.embedding_text() for c in missing])
        for chunk, vector in zip(missing, vectors, strict=True):
            if len(vector) != embedder.dimension:
                raise ValueError(f"{embedder.model} returned {len(vector)} dimensions, expected {embedder.dimension}")
            cached[chunk.content_hash] = vector
    progress.embedded += len(missing)
    progress.reused += len(all_chunks) - len(missing)
    return cached


async def _write(
    pending: list[tuple[LoadedFile, list[Chunk]]],
    vectors: dict[str, list[float]],
    repo_id: int,
    team_id: int,
    progress: Progress,
) -> None:
    for loaded, chunks in pending:
        graph = await asyncio.to_thread(file_graph_rows, loaded.source.path, loaded.text, loaded.source.language)
        await store.replace_file(
            team_id=team_id,
            repo_id=repo_id,
            path=loaded.source.path,
            content_hash=indexed_file_hash(loaded.content_hash),
            language=loaded.source.language,
            size=loaded.source.size,
            chunks=[
                store.ChunkRow(
                    path=c.path,
                    start_line=c.start_line,
                    end_line=c.end_line,
                    language=c.language,
                    symbol=c.symbol,
                    symbols=c.hierarchy,
                    text=c.text,
                    search_text=c.search_text(),
                    content_hash=c.content_hash,
                    embedding=vectors[c.content_hash],
                )
                for c in chunks
            ],
            graph=graph,
        )
        progress.files_done += 1
        progress.files_changed += 1
        progress.chunks += len(chunks)
