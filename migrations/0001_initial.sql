-- 0001: the foundation schema: identity, chat history, attachments and the code-search store.
-- Append-only: never edit an applied migration; add a new numbered file instead (the runner checks sums).

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email VARCHAR(320) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at TIMESTAMPTZ
);

CREATE TABLE memberships (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    role VARCHAR(20) NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, team_id)
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    prefix VARCHAR(16) NOT NULL,
    name VARCHAR(100) NOT NULL DEFAULT '',
    origin VARCHAR(20) NOT NULL CHECK (origin IN ('cli', 'rotation', 'login')),
    rotation_key VARCHAR(64) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    rotated_at TIMESTAMPTZ,
    replaced_by_id BIGINT REFERENCES api_tokens (id) ON DELETE SET NULL
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, team_id);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_type VARCHAR(64) NOT NULL,
    summary TEXT NOT NULL,
    summary_generated BOOLEAN NOT NULL DEFAULT false,
    pinned_rank INT,
    last_model VARCHAR(128),
    is_auxiliary BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ
);
-- The history list: one principal's live sessions of one type, newest first (PROTOCOL §10.1).
CREATE INDEX sessions_list_idx ON sessions (user_id, team_id, session_type, updated_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE user_queries (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    model VARCHAR(128) NOT NULL,
    agent VARCHAR(64),
    retry_reason VARCHAR(32),
    fingerprint VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'RUNNING'
        CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    step_count INT NOT NULL DEFAULT 0 CHECK (step_count >= 0),
    feedback VARCHAR(16) CHECK (feedback IN ('UPVOTE', 'DOWNVOTE')),
    summary TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_queries_session_idx ON user_queries (session_id, id);

CREATE TABLE steps (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_query_id BIGINT NOT NULL REFERENCES user_queries (id) ON DELETE CASCADE,
    stream_id VARCHAR(32) NOT NULL UNIQUE CHECK (stream_id ~ '^[0-9a-f]{32}$'),
    ordinal INT NOT NULL CHECK (ordinal >= 1),
    kind VARCHAR(16) NOT NULL DEFAULT 'MODEL' CHECK (kind IN ('MODEL', 'ACK')),
    model VARCHAR(128),
    provider VARCHAR(64),
    status VARCHAR(16) NOT NULL DEFAULT 'RUNNING'
        CHECK (status IN ('RUNNING', 'COMPLETED', 'TOOL_TURN', 'MALFORMED', 'FAILED', 'CANCELLED')),
    end_event VARCHAR(40),
    error JSONB,
    usage JSONB,
    cost_usd DECIMAL(14, 6),
    request_fingerprint VARCHAR(64),
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ
);
CREATE INDEX steps_query_idx ON steps (user_query_id, ordinal);
-- At most one running step per session (PROTOCOL §6.5), enforced by the database across workers.
CREATE UNIQUE INDEX steps_one_running_per_session ON steps (session_id) WHERE status = 'RUNNING';

CREATE TABLE chat_elements (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_query_id BIGINT REFERENCES user_queries (id) ON DELETE CASCADE,
    step_id BIGINT REFERENCES steps (id) ON DELETE SET NULL,
    actor VARCHAR(16) NOT NULL CHECK (actor IN ('USER', 'ASSISTANT', 'SYSTEM')),
    message_type VARCHAR(32) NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_elements_session_idx ON chat_elements (session_id, id);

CREATE TABLE tool_uses (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step_id BIGINT NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    chat_element_id BIGINT REFERENCES chat_elements (id) ON DELETE SET NULL,
    tool_use_id VARCHAR(64) NOT NULL CHECK (tool_use_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    tool_name VARCHAR(128) NOT NULL,
    position INT NOT NULL,
    executor VARCHAR(16) NOT NULL DEFAULT 'CLIENT' CHECK (executor IN ('CLIENT', 'SERVER')),
    tool_input JSONB NOT NULL,
    tool_response JSONB,
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'ABORTED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    answered_at TIMESTAMPTZ,
    UNIQUE (session_id, tool_use_id)
);
CREATE INDEX tool_uses_step_idx ON tool_uses (step_id, position);
CREATE INDEX tool_uses_pending_idx ON tool_uses (session_id) WHERE status = 'PENDING';

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    folder VARCHAR(16) NOT NULL CHECK (folder IN ('image', 'payload', 'file')),
    file_name VARCHAR(255) NOT NULL,
    file_type VARCHAR(128) NOT NULL,
    max_size BIGINT NOT NULL CHECK (max_size > 0),
    size BIGINT CHECK (size >= 0),
    status VARCHAR(20) NOT NULL DEFAULT 'PENDING_UPLOAD'
        CHECK (status IN ('PENDING_UPLOAD', 'UPLOADED', 'CONSUMED', 'DELETED')),
    storage_key VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    uploaded_at TIMESTAMPTZ,
    consumed_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX attachments_owner_idx ON attachments (user_id, team_id);

CREATE TABLE repositories (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name VARCHAR(200) NOT NULL,
    source TEXT NOT NULL,
    source_kind VARCHAR(16) NOT NULL CHECK (source_kind IN ('local', 'git')),
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING',
    embedding_model VARCHAR(128),
    embedding_dim INT CHECK (embedding_dim > 0),
    file_count INT NOT NULL DEFAULT 0,
    chunk_count INT NOT NULL DEFAULT 0,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    indexed_at TIMESTAMPTZ,
    UNIQUE (team_id, name)
);

CREATE TABLE files (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    language VARCHAR(32),
    size_bytes BIGINT NOT NULL,
    indexed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (repository_id, path)
);

CREATE TABLE chunks (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    start_line INT NOT NULL CHECK (start_line >= 1),
    end_line INT NOT NULL,
    language VARCHAR(32),
    symbol TEXT,
    symbols JSONB NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    -- Identifier-split text (fooBar -> foo bar) prepared by the indexer; the full-text index is built on it.
    search_text TEXT NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    embedding vector,
    embedding_dim INT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    CHECK (end_line >= start_line),
    CHECK ((embedding IS NULL) = (embedding_dim IS NULL)),
    CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
);
CREATE INDEX chunks_file_idx ON chunks (file_id);
CREATE INDEX chunks_repository_path_idx ON chunks (repository_id, path);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
-- One HNSW index per embedding dimension in use; 384 = all-MiniLM-L6-v2, the local default.
-- Queries must use the same expression and predicate to hit it.
CREATE INDEX chunks_embedding_384_idx ON chunks USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE embedding_dim = 384;
