-- 0026: repository crawls (docs/answers.md#crawling).
--
-- A crawl lists a connection's repositories (an organisation, group or workspace, a topic, or named ones),
-- filters them and queues one index job per repository that changed. One row per listed repository keeps
-- what became of it (filtered out and why, unchanged, queued, indexed, failed) and the commit it was queued
-- at; the commit of the last successful index is what the next crawl compares the head against.

CREATE TABLE crawls (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    requested_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    scope JSONB NOT NULL CHECK (jsonb_typeof(scope) = 'object'),
    filters JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filters) = 'object'),
    status VARCHAR(16) NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'LISTING', 'PAUSED', 'INDEXING', 'SUCCEEDED', 'FAILED')),
    job_id BIGINT,
    pauses INT NOT NULL DEFAULT 0,
    error TEXT,
    resume_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE INDEX crawls_team_idx ON crawls (team_id, id DESC);

CREATE TABLE crawl_repositories (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    crawl_id BIGINT NOT NULL REFERENCES crawls (id) ON DELETE CASCADE,
    full_name VARCHAR(500) NOT NULL,
    state VARCHAR(16) NOT NULL
        CHECK (state IN ('FILTERED', 'SKIPPED', 'UNCHANGED', 'QUEUED', 'INDEXED', 'FAILED')),
    skipped_reason TEXT,
    head_commit VARCHAR(64),
    repository_id BIGINT REFERENCES repositories (id) ON DELETE SET NULL,
    index_job VARCHAR(32),
    last_indexed_commit VARCHAR(64),
    error TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (crawl_id, full_name)
);
CREATE INDEX crawl_repositories_last_idx ON crawl_repositories (team_id, full_name, id DESC);
