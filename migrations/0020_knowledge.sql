-- 0020: the knowledge store (docs/answers.md#knowledge-sources).
--
-- A team's non-code knowledge: where it came from (a source: a Stack Exchange query, a data dump, a docs
-- folder, a Confluence space...), one document per imported thing (a page, or one answer with its question),
-- unique per team, source and the thing's own id so a re-import updates instead of duplicating, and the
-- searchable chunks of each document (full-text + pgvector, like code chunks). An import is a job; its row
-- keeps progress and counts where the team can see them.

CREATE TABLE knowledge_sources (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind VARCHAR(16) NOT NULL
        CHECK (kind IN ('stackexchange', 'dump', 'discussions', 'faq', 'confluence', 'docs', 'urls')),
    name VARCHAR(200) NOT NULL,
    config JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    document_count INT NOT NULL DEFAULT 0,
    chunk_count INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_imported_at TIMESTAMPTZ,
    UNIQUE (team_id, name)
);

CREATE TABLE knowledge_documents (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source_id BIGINT NOT NULL REFERENCES knowledge_sources (id) ON DELETE CASCADE,
    external_id VARCHAR(500) NOT NULL,
    kind VARCHAR(8) NOT NULL CHECK (kind IN ('doc', 'qa')),
    title TEXT NOT NULL,
    url TEXT,
    meta JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(meta) = 'object'),
    content_hash VARCHAR(64) NOT NULL,
    embedding_model VARCHAR(128),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, source_id, external_id)
);
CREATE INDEX knowledge_documents_source_idx ON knowledge_documents (source_id);

CREATE TABLE knowledge_chunks (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source_id BIGINT NOT NULL REFERENCES knowledge_sources (id) ON DELETE CASCADE,
    document_id BIGINT NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
    position INT NOT NULL CHECK (position >= 0),
    kind VARCHAR(8) NOT NULL CHECK (kind IN ('doc', 'qa', 'qa_code')),
    language VARCHAR(32),
    -- The heading trail of a documentation chunk ("Deploying > Rollback").
    section TEXT,
    text TEXT NOT NULL,
    -- Title and text with identifiers split (fooBar -> foo bar), as for code chunks; the full-text index is on it.
    search_text TEXT NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    embedding vector,
    embedding_dim INT,
    embedding_model VARCHAR(128),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    UNIQUE (document_id, position),
    CHECK ((embedding IS NULL) = (embedding_dim IS NULL)),
    CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
);
CREATE INDEX knowledge_chunks_team_kind_idx ON knowledge_chunks (team_id, kind);
CREATE INDEX knowledge_chunks_team_hash_idx ON knowledge_chunks (team_id, content_hash);
CREATE INDEX knowledge_chunks_tsv_idx ON knowledge_chunks USING gin (tsv);
-- Queries must use the same expression and predicate to hit these (as for code chunks).
CREATE INDEX knowledge_chunks_embedding_384_idx ON knowledge_chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384;
CREATE INDEX knowledge_chunks_embedding_1536_idx ON knowledge_chunks
    USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE embedding_dim = 1536;

CREATE TABLE knowledge_imports (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source_id BIGINT NOT NULL REFERENCES knowledge_sources (id) ON DELETE CASCADE,
    requested_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    job_id BIGINT,
    status VARCHAR(16) NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    progress JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(progress) = 'object'),
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE INDEX knowledge_imports_team_idx ON knowledge_imports (team_id, id DESC);
