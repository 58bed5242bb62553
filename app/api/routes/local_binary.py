"""Routes the extension's local binary calls (docs/protocol.md §4.2): embeddings and chunk reranking."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.limits import rate_limit
from app.api.openapi import OPTIONAL_SESSION_ID, SESSION_TYPE, Described, documented
from app.api.validation import parse_body
from app.chat import history
from app.db.wire_types import Int32, WireStr
from app.errors import PayloadTooLarge
from app.search.rerank import Candidate
from app.search.service import SearchService

bp = Blueprint("local_binary")
CHARS_PER_TOKEN = 4


class EmbeddingBody(BaseModel):
    texts: list[WireStr] = Field(min_length=1)
    store_embeddings: bool = False
    use_grace_period: bool = False


class SourceDetails(BaseModel):
    file_path: WireStr
    start_line: Int32
    end_line: Int32


class ChunkInfo(BaseModel):
    content: WireStr = ""
    source_details: SourceDetails


class RerankBody(BaseModel):
    query: WireStr = Field(max_length=20_000)
    relevant_chunks: list[ChunkInfo] = Field(max_length=500)


class Embeddings(Described):
    embeddings: list[list[float]] = Field(description="One vector per text, in the order sent.")
    tokens_used: int


class Reranked(Described):
    reranked_denotations: list[str] = Field(
        description='"<file_path>:<start_line>-<end_line>", most relevant first; empty means keep all.'
    )
    session_id: int = Field(description="The header session, else the caller's auxiliary session.")


@bp.post("/end_user/v1/code-gen/create-embedding")
@documented(
    summary="Embed texts for the local binary (docs/protocol.md §4.2)",
    description="Texts over the embedding token limit are truncated, not refused.",
    body=EmbeddingBody,
    response=Embeddings,
    errors=[413, 429],
    tag="local_binary",
)
async def create_embedding(request: Request) -> HTTPResponse:
    limits = request.app.ctx.settings.search
    if len(request.body or b"") > limits.embedding_route_max_bytes:
        raise PayloadTooLarge(f"at most {limits.embedding_route_max_bytes} bytes per request")
    body = parse_body(request, EmbeddingBody)
    if len(body.texts) > limits.embedding_route_max_texts:
        raise PayloadTooLarge(f"at most {limits.embedding_route_max_texts} texts per request")
    await rate_limit(request, "embed", limits.embedding_route_per_minute)
    token_limit = request.app.ctx.settings.client_config.local_binary.EMBEDDING.get("TOKEN_LIMIT", 8192)
    texts = [t[: token_limit * CHARS_PER_TOKEN] or " " for t in body.texts]  # over the limit: truncated, not refused
    service: SearchService = request.app.ctx.search
    embedder = await asyncio.to_thread(service.embedder)
    vectors = await asyncio.to_thread(embedder.embed, texts)
    tokens = await asyncio.to_thread(embedder.count_tokens, texts)
    return success({"embeddings": vectors, "tokens_used": tokens})


@bp.post("/end_user/v1/chunks/rerank-via-llm")
@documented(
    summary="Rerank code chunks for a query (docs/protocol.md §4.2)",
    body=RerankBody,
    response=Reranked,
    headers=[OPTIONAL_SESSION_ID, SESSION_TYPE],
    errors=[404],
    tag="local_binary",
)
async def rerank(request: Request) -> HTTPResponse:
    body = parse_body(request, RerankBody)
    principal = request.ctx.auth.principal
    if request.headers.get("x-session-id"):
        session = await history.owned_session(principal, request.headers.get("x-session-id"))
    else:
        session = await history.auxiliary_session(principal)
    candidates = [
        Candidate(f"{c.source_details.file_path}:{c.source_details.start_line}-{c.source_details.end_line}", c.content)
        for c in body.relevant_chunks
    ]
    ranked = [c.denotation for c in candidates]
    if request.app.ctx.settings.search.llm_rerank:
        ranked = await request.app.ctx.search.reranker.rank(body.query, candidates)
    return success({"reranked_denotations": ranked, "session_id": session.id})
