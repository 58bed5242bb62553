-- 0006: code-search lifecycle and lookups.
ALTER TABLE repositories ADD CONSTRAINT repositories_status_check
    CHECK (status IN ('PENDING', 'CLONING', 'INDEXING', 'READY', 'FAILED'));
-- The embedding cache looks chunks up by content hash within a team.
CREATE INDEX chunks_team_content_hash_idx ON chunks (team_id, content_hash);
-- OpenAI's text-embedding-3-small at its native size; other sizes are searched exactly (no ANN index).
CREATE INDEX chunks_embedding_1536_idx ON chunks USING hnsw ((embedding::vector(1536)) vector_cosine_ops)
    WHERE embedding_dim = 1536;
