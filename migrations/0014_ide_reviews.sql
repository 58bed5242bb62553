-- 0014: the extension's IDE review (docs/review-protocol.md).
--
-- Review agents belong to one principal (team + user); the five predefined ones are created on the first
-- listing, and a partial unique index on the display name of live agents makes that creation idempotent under
-- concurrent first calls. A review stores its per-file diffs itself (a late post-process must still find them).
-- One agent run per (review, agent) holds the resumable reviewer conversation between the client's tool round
-- trips: the unique pair is how a second `query` for a started agent is recognised, and `pending_tool_use_id`
-- is the only tool answer the run accepts. Comments are the final, post-processed set; feedback is one row per
-- (comment, user), replaced by every call.

CREATE TABLE ide_review_repos (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repo_name VARCHAR(200) NOT NULL,
    origin_url TEXT NOT NULL,
    origin_hash VARCHAR(64) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, repo_name, origin_hash)
);

CREATE TABLE ide_review_agents (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_name VARCHAR(64) NOT NULL,
    display_name VARCHAR(100) NOT NULL CHECK (length(btrim(display_name)) > 0),
    custom_prompt TEXT NOT NULL DEFAULT '',
    objective TEXT NOT NULL DEFAULT '',
    is_custom_agent BOOLEAN NOT NULL,
    confidence_score DOUBLE PRECISION NOT NULL CHECK (confidence_score >= 0 AND confidence_score <= 1),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ide_review_agents_live_name_idx
    ON ide_review_agents (team_id, user_id, display_name) WHERE deleted_at IS NULL;

CREATE TABLE ide_reviews (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    repo_id BIGINT NOT NULL REFERENCES ide_review_repos (id) ON DELETE CASCADE,
    session_id BIGINT REFERENCES sessions (id) ON DELETE SET NULL,
    source_branch VARCHAR(255) NOT NULL DEFAULT '',
    target_branch VARCHAR(255) NOT NULL DEFAULT '',
    source_commit VARCHAR(64) NOT NULL DEFAULT '',
    target_commit VARCHAR(64) NOT NULL DEFAULT '',
    review_type VARCHAR(20) NOT NULL CHECK (review_type IN ('ALL', 'UNCOMMITTED_ONLY', 'COMMITTED_ONLY')),
    status VARCHAR(24) NOT NULL DEFAULT 'IN_PROGRESS' CHECK (
        status IN ('IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED_NO_DIFF', 'REJECTED_LARGE_SIZE')
    ),
    reviewed_files JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(reviewed_files) = 'array'),
    file_diffs JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(file_diffs) = 'array'),
    loc INT NOT NULL DEFAULT 0 CHECK (loc >= 0),
    diff_tokens INT NOT NULL DEFAULT 0 CHECK (diff_tokens >= 0),
    title TEXT,
    failure TEXT,
    review_datetime TIMESTAMPTZ,
    execution_time_seconds INT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status <> 'COMPLETED' OR review_datetime IS NOT NULL)
);
CREATE INDEX ide_reviews_history_idx ON ide_reviews (team_id, user_id, review_datetime DESC) WHERE status = 'COMPLETED';
CREATE INDEX ide_reviews_open_idx ON ide_reviews (team_id, user_id, repo_id) WHERE status = 'IN_PROGRESS';

CREATE TABLE ide_review_agent_runs (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    review_id BIGINT NOT NULL REFERENCES ide_reviews (id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES ide_review_agents (id) ON DELETE CASCADE,
    status VARCHAR(16) NOT NULL DEFAULT 'RUNNING' CHECK (
        status IN ('RUNNING', 'WAITING_TOOL', 'COMPLETED', 'FAILED', 'ABORTED', 'CANCELLED')
    ),
    conversation JSONB,
    pending_tool_use_id VARCHAR(128),
    steps INT NOT NULL DEFAULT 0 CHECK (steps >= 0),
    findings JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(findings) = 'array'),
    rejected_findings INT NOT NULL DEFAULT 0,
    failure TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    UNIQUE (review_id, agent_id),
    CHECK (status <> 'WAITING_TOOL' OR (pending_tool_use_id IS NOT NULL AND conversation IS NOT NULL))
);

CREATE TABLE ide_review_tool_calls (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    run_id BIGINT NOT NULL REFERENCES ide_review_agent_runs (id) ON DELETE CASCADE,
    tool_use_id VARCHAR(128) NOT NULL,
    tool_name VARCHAR(64) NOT NULL,
    tool_input JSONB NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    response JSONB,
    rendered TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    answered_at TIMESTAMPTZ,
    UNIQUE (run_id, tool_use_id)
);

CREATE TABLE ide_review_comments (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    review_id BIGINT NOT NULL REFERENCES ide_reviews (id) ON DELETE CASCADE,
    agent_ids JSONB NOT NULL CHECK (jsonb_typeof(agent_ids) = 'array'),
    title TEXT NOT NULL,
    comment TEXT NOT NULL,
    rationale TEXT NOT NULL DEFAULT '',
    corrective_code TEXT NOT NULL DEFAULT '',
    file_path TEXT NOT NULL,
    line_number INT NOT NULL CHECK (line_number >= 1),
    tag VARCHAR(32) NOT NULL,
    category VARCHAR(64) NOT NULL DEFAULT '',
    severity VARCHAR(16) NOT NULL DEFAULT 'medium',
    confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
    comment_status VARCHAR(16) NOT NULL DEFAULT 'NOT_REVIEWED' CHECK (
        comment_status IN ('NOT_REVIEWED', 'RESOLVED', 'REJECTED', 'ACCEPTED')
    ),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ide_review_comments_review_idx ON ide_review_comments (review_id, file_path, line_number);

CREATE TABLE ide_review_comment_feedback (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    comment_id BIGINT NOT NULL REFERENCES ide_review_comments (id) ON DELETE CASCADE,
    liked BOOLEAN NOT NULL,
    feedback_comment TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (comment_id, user_id)
);
