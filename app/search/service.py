"""Code search as the rest of the service uses it: the configured embedder, indexing of local paths and git
URLs, and searches scoped to the caller's team."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

from app.db.models import Repository
from app.db.repositories import code as store
from app.errors import InvalidRequest, NotFound
from app.runtime.settings import Settings
from app.search.embeddings import Embedder, OpenAIEmbedder, local_embedder
from app.search.indexer import IndexReport, ProgressCallback, index_repository
from app.search.rerank import Candidate, LLMReranker, reorder
from app.search.retrieval import CodeSearch, Mode, SearchHit

NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
GIT_URL = re.compile(r"^(https?://|ssh://|git@)[^\s]+$")


def make_embedder(settings: Settings) -> Embedder:
    search = settings.search
    if search.embedding_provider == "openai":
        return OpenAIEmbedder(
            settings.providers.openai_api_key,
            search.openai_embedding_model,
            search.embedding_dimension,
            settings.providers.openai_base_url or None,
        )
    return local_embedder(search.embedding_threads)


class SearchService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Embedder | None = None
        # Wired by the app once a model router exists; without one, a rerank request keeps the fused order.
        self.reranker = LLMReranker(_no_model)
        self.search_engine = CodeSearch(
            self.embedder,
            candidates=settings.search.candidates,
            rrf_k=settings.search.rrf_k,
            ef_search=settings.search.hnsw_ef_search,
            weights={"fts": settings.search.fts_weight, "vector": settings.search.vector_weight},
        )

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    def repos_dir(self) -> Path:
        configured = self.settings.search.repos_dir
        return Path(configured).expanduser() if configured else self.settings.server.resolved_data_dir() / "repos"

    async def index_path(
        self, root: Path, *, team_id: int, name: str, on_progress: ProgressCallback | None = None
    ) -> IndexReport:
        if not NAME.match(name):
            raise InvalidRequest("repository names use letters, digits, '.', '_' and '-' (at most 200)")
        embedder = await asyncio.to_thread(self.embedder)
        return await index_repository(
            root,
            team_id=team_id,
            name=name,
            source=str(root.resolve()),
            source_kind="local",
            embedder=embedder,
            max_chunk_chars=self.settings.search.max_chunk_chars,
            on_progress=on_progress,
        )

    async def index_git(
        self, url: str, *, team_id: int, name: str, on_progress: ProgressCallback | None = None
    ) -> IndexReport:
        if not GIT_URL.match(url):
            raise InvalidRequest("git URLs must be http(s)://, ssh:// or git@")
        checkout = self.repos_dir() / str(team_id) / name
        await asyncio.to_thread(clone_or_pull, url, checkout)
        embedder = await asyncio.to_thread(self.embedder)
        return await index_repository(
            checkout,
            team_id=team_id,
            name=name,
            source=url,
            source_kind="git",
            embedder=embedder,
            max_chunk_chars=self.settings.search.max_chunk_chars,
            on_progress=on_progress,
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


def clone_or_pull(url: str, checkout: Path) -> None:
    """A shallow clone, or the latest commit of the remote's default branch in an existing one (a mirror we
    own: history rewrites upstream are simply followed). Errors carry git's own message."""
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed on the server")
    checkout.parent.mkdir(parents=True, exist_ok=True)
    if (checkout / ".git").is_dir():
        commands = [
            [git, "-C", str(checkout), "fetch", "--depth", "1", "--", url, "HEAD"],
            [git, "-C", str(checkout), "reset", "--hard", "--quiet", "FETCH_HEAD"],
        ]
    else:
        commands = [[git, "clone", "--depth", "1", "--quiet", "--", url, str(checkout)]]
    for command in commands:
        # A fixed argv (the URL is validated and passed after "--"), no shell.
        result = subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            timeout=600,
            # No prompts (a job has no terminal) and no transports beyond the ones the URL check allows.
            env={
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_ALLOW_PROTOCOL": "http:https:ssh",
                "PATH": "/usr/bin:/bin:/usr/local/bin",
            },
        )
        if result.returncode != 0:
            raise RuntimeError(f"git failed: {result.stderr.strip()[-500:]}")
