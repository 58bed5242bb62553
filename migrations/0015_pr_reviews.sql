-- 0015: pull-request review. One row per pull request a connection reviews (what was reviewed last, the one
-- summary comment edited on every run, the approval given, a short lease so two runs of one pull request never
-- post at once); one row per review run (its findings, what was dropped and why, what was decided); the
-- comments the bot posted, unique per finding fingerprint so a finding is never posted twice; each connection's
-- permission to approve or request changes and who may command the bot in pull-request comments (set by a
-- maintainer); and the audit trail of every action taken.

CREATE TABLE pr_review_pulls (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    repo VARCHAR(300) NOT NULL,
    number INT NOT NULL CHECK (number >= 1),
    title TEXT NOT NULL DEFAULT '',
    author VARCHAR(200),
    url TEXT NOT NULL DEFAULT '',
    last_reviewed_sha VARCHAR(64),
    summary_comment_id VARCHAR(64),
    approval_state VARCHAR(20) NOT NULL DEFAULT 'NONE' CHECK (
        approval_state IN ('NONE', 'APPROVED', 'CHANGES_REQUESTED')
    ),
    locked_by VARCHAR(64),
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, repo, number)
);
CREATE INDEX pr_review_pulls_team_idx ON pr_review_pulls (team_id);

CREATE TABLE pr_reviews (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    pull_id BIGINT NOT NULL REFERENCES pr_review_pulls (id) ON DELETE CASCADE,
    job_id BIGINT,
    head_sha VARCHAR(64) NOT NULL,
    base_sha VARCHAR(64),
    incremental BOOLEAN NOT NULL DEFAULT false,
    trigger VARCHAR(16) NOT NULL CHECK (trigger IN ('webhook', 'cli', 'command')),
    posting BOOLEAN NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'SKIPPED', 'FAILED')),
    findings JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(findings) = 'array'),
    dropped JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(dropped) = 'array'),
    omitted JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(omitted) = 'array'),
    files_reviewed JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(files_reviewed) = 'array'),
    counts JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(counts) = 'object'),
    labels JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(labels) = 'array'),
    approval VARCHAR(20) CHECK (approval IN ('APPROVE', 'REQUEST_CHANGES')),
    approval_done BOOLEAN NOT NULL DEFAULT false,
    approval_refused TEXT,
    reason TEXT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    duration_ms INT CHECK (duration_ms >= 0),
    CHECK (status = 'RUNNING' OR finished_at IS NOT NULL)
);
CREATE INDEX pr_reviews_team_idx ON pr_reviews (team_id, id DESC);
CREATE INDEX pr_reviews_pull_idx ON pr_reviews (pull_id, id DESC);

CREATE TABLE pr_review_comments (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    pull_id BIGINT NOT NULL REFERENCES pr_review_pulls (id) ON DELETE CASCADE,
    review_id BIGINT REFERENCES pr_reviews (id) ON DELETE SET NULL,
    fingerprint VARCHAR(64) NOT NULL,
    platform_id VARCHAR(64),
    thread_id VARCHAR(64),
    path TEXT NOT NULL,
    line INT NOT NULL CHECK (line >= 1),
    end_line INT NOT NULL CHECK (end_line >= line),
    severity VARCHAR(16) NOT NULL,
    category VARCHAR(60) NOT NULL,
    title TEXT NOT NULL,
    commit_sha VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL DEFAULT 'PENDING' CHECK (
        state IN ('PENDING', 'POSTED', 'OUTDATED', 'RESOLVED', 'IGNORED', 'FAILED')
    ),
    state_reason TEXT,
    url TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (pull_id, fingerprint)
);

CREATE TABLE review_connection_settings (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL UNIQUE REFERENCES integrations (id) ON DELETE CASCADE,
    may_approve BOOLEAN NOT NULL DEFAULT false,
    may_request_changes BOOLEAN NOT NULL DEFAULT false,
    commands_from VARCHAR(16) NOT NULL DEFAULT 'author' CHECK (commands_from IN ('nobody', 'author', 'anyone')),
    updated_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    actor_type VARCHAR(8) NOT NULL CHECK (actor_type IN ('user', 'bot')),
    actor_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_name VARCHAR(200) NOT NULL,
    action VARCHAR(40) NOT NULL,
    target_type VARCHAR(40) NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    details JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_team_idx ON audit_events (team_id, id DESC);
