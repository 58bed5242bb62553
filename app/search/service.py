"""Code search as the rest of the service uses it: the configured embedder, indexing of local paths and git
URLs, and searches scoped to the caller's team."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from app.db.models import Repository
from app.db.repositories import code as store
from app.errors import IndexingFailed, InvalidRequest, NotFound
from app.integrations.addresses import AllowList, Resolver, system_resolver
from app.runtime.settings import Settings
from app.search import git_credentials
from app.search.embeddings import (
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    Embedder,
    LazyEmbedder,
    OpenAIEmbedder,
    local_embedder,
)
from app.search.git_clone import clone_or_pull
from app.search.git_remote import GitRemote, GitUrl, check_remote, parse_git_url
from app.search.rerank import Candidate, LLMReranker, reorder
from app.search.retrieval import CodeSearch, Mode, SearchHit

if TYPE_CHECKING:
    from app.runtime.secret_box import SecretBox
    from app.search.indexer import IndexReport, ProgressCallback

# The indexer (file discovery, chunking, the symbol graph) and the secret box (cryptography) are imported
# by the methods that index or open credentials, so a process that just searches, like `adjutant search`,
# loads neither.

# A name is also a directory of the clone area: no ".", "..", hidden names, separators or control characters.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
NAME_RULE = "repository names start with a letter or digit, then letters, digits, '.', '_' and '-' (at most 200)"


def valid_repository_name(name: str) -> bool:
    return NAME.fullmatch(name) is not None


def make_embedder(settings: Settings) -> Embedder:
    search = settings.search
    if search.embedding_provider == "openai":
        return OpenAIEmbedder(
            settings.providers.openai_api_key,
            search.openai_embedding_model,
            search.embedding_dimension,
            settings.providers.openai_base_url or None,
        )
    return local_embedder(search.embedding_threads, search.embedding_batch_size)


class SearchService:
    """Code search as the rest of the app uses it: index a local path or a checked git remote, list a
    team's indexes, and search them (optionally reranked by the helper model)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Embedder | None = None
        self._secret_box: SecretBox | None = None
        self._secret_box_loaded = False
        self.git_allow = AllowList.parse(settings.search.git_allowed_hosts)
        self.resolver: Resolver = system_resolver
        # Wired by the app once a model router exists; without one, a rerank request keeps the fused order.
        self.reranker = LLMReranker(_no_model)
        self.search_engine = CodeSearch(
            self.embedder,
            candidates=settings.search.candidates,
            rrf_k=settings.search.rrf_k,
            ef_search=settings.search.hnsw_ef_search,
            weights={"fts": settings.search.fts_weight, "vector": settings.search.vector_weight},
            fusion=settings.search.fusion,
            text_weight=settings.search.text_weight,
            symbol_weight=settings.search.symbol_weight,
            max_term_share=settings.search.fts_max_term_share,
        )

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    def indexing_embedder(self) -> Embedder:
        """The embedder, loaded only once a chunk needs embedding (an unchanged repository needs none)."""
        if self._embedder is not None:
            return self._embedder
        search = self.settings.search
        if search.embedding_provider == "openai":
            return LazyEmbedder(search.openai_embedding_model, search.embedding_dimension, self.embedder)
        return LazyEmbedder(LOCAL_MODEL, LOCAL_DIMENSION, self.embedder)

    def secret_box(self) -> SecretBox | None:
        """The keys that seal stored credentials (loaded, or generated for the embedded stack, on first use)."""
        if not self._secret_box_loaded:
            from app.runtime.secret_box import load_secret_box

            self._secret_box = load_secret_box(self.settings)
            self._secret_box_loaded = True
        return self._secret_box

    def seal_credentials(self, url: GitUrl, *, team_id: int, name: str) -> str | None:
        """The URL's credentials sealed for the repository row; InvalidRequest when they cannot be kept."""
        return git_credentials.seal(url, self.secret_box(), team_id=team_id, name=name)

    def repos_dir(self) -> Path:
        configured = self.settings.search.repos_dir
        return Path(configured).expanduser() if configured else self.settings.server.resolved_data_dir() / "repos"

    async def check_git_url(self, url: str) -> GitRemote:
        """The remote a git URL names, if this server may clone it; InvalidRequest says why not."""
        try:
            return await check_remote(parse_git_url(url), self.git_allow, self.resolver)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None

    def _caps(self) -> dict[str, int]:
        search = self.settings.search
        return {"max_files": search.max_repository_files, "max_bytes": search.max_repository_bytes}

    async def index_path(
        self, root: Path, *, team_id: int, name: str, on_progress: ProgressCallback | None = None
    ) -> IndexReport:
        from app.search.indexer import index_repository

        if not valid_repository_name(name):
            raise InvalidRequest(NAME_RULE)
        return await index_repository(
            root,
            team_id=team_id,
            name=name,
            source=str(root.resolve()),
            source_kind="local",
            embedder=self.indexing_embedder(),
            max_chunk_chars=self.settings.search.max_chunk_chars,
            on_progress=on_progress,
            **self._caps(),
        )

    async def index_git(
        self,
        url: str,
        *,
        team_id: int,
        name: str,
        sealed_credentials: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IndexReport:
        """Clone or refresh the URL, then index the checkout. The URL is judged again here, not only when it
        was posted: what its host resolves to may have changed since, and the clone uses this answer.
        `sealed_credentials` (the row's) are opened only for the clone."""
        from app.search.indexer import index_repository

        if not valid_repository_name(name):
            raise InvalidRequest(NAME_RULE)
        try:
            remote = await check_remote(parse_git_url(url), self.git_allow, self.resolver)
        except ValueError as exc:
            raise IndexingFailed(str(exc)) from None
        if sealed_credentials is not None:
            opened = git_credentials.unseal(
                remote.url, sealed_credentials, self.secret_box(), team_id=team_id, name=name
            )
            remote = GitRemote(opened, remote.resolved)
        repos = self.repos_dir()
        repos.mkdir(parents=True, exist_ok=True, mode=0o700)
        checkout = repos / str(team_id) / name
        search = self.settings.search
        await asyncio.to_thread(
            clone_or_pull, remote, checkout, max_bytes=search.git_max_clone_bytes, timeout_s=search.git_clone_timeout_s
        )
        return await index_repository(
            checkout,
            team_id=team_id,
            name=name,
            source=url,
            source_kind="git",
            embedder=self.indexing_embedder(),
            max_chunk_chars=search.max_chunk_chars,
            on_progress=on_progress,
            **self._caps(),
        )

    async def repositories(self, team_id: int, names: list[str] | None = None) -> list[Repository]:
        if names:
            found = await store.repositories_named(team_id, names)
            missing = sorted(set(names) - {r.name for r in found})
            if missing:
                raise NotFound(f"no indexed repository named {', '.join(missing)}")
            return found
        return await store.list_repositories(team_id)

    async def search(
        self,
        query: str,
        *,
        team_id: int,
        repos: list[str] | None = None,
        top_k: int | None = None,
        mode: Mode = "hybrid",
        path_prefix: str | None = None,
        language: str | None = None,
        rerank: bool | None = None,
    ) -> tuple[list[SearchHit], dict[int, str]]:
        """Hits from the team's indexes (`repos` by name, default all), and each hit's repository name by id."""
        repositories = [r for r in await self.repositories(team_id, repos) if r.chunk_count or r.status == "READY"]
        vector_ids: list[int] = []
        if mode != "fts" and repositories:
            embedder = await asyncio.to_thread(self.embedder)
            # Vectors of another model live in another space: such an index is searched by text only
            # until it is re-indexed with the configured model.
            vector_ids = [r.id for r in repositories if r.embedding_model in (None, embedder.model)]
        names = {r.id: r.name for r in repositories}
        top_k = top_k or self.settings.search.default_top_k
        rerank = self.settings.search.rerank_results if rerank is None else rerank
        depth = max(top_k, self.settings.search.rerank_candidates) if rerank else top_k
        hits = await self.search_engine.search(
            query,
            list(names),
            vector_repo_ids=vector_ids,
            top_k=depth,
            mode=mode,
            path_prefix=path_prefix,
            language=language,
        )
        if rerank and len(hits) > 1:
            shortlist = hits[: self.settings.search.rerank_candidates]
            ranked = await self.reranker.rank(query, [Candidate(h.denotation, h.text) for h in shortlist])
            for position, hit in enumerate(reorder(shortlist, ranked, key=lambda h: h.denotation), start=1):
                hit.ranks["rerank"] = position
            hits = sorted(hits[: len(shortlist)], key=lambda h: h.ranks["rerank"]) + hits[len(shortlist) :]
        return hits[:top_k], names


async def _no_model(prompt: str) -> str:
    raise RuntimeError("no model router is configured for reranking")
