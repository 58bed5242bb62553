-- 0019: developer feedback -> documentation tickets (docs/feedback.md).
--
-- feedback_messages: every message read from a source, once per (team, source, external id), with only what a
-- ticket needs of its author (a display name, the service's id) and a link back. `context` holds what makes a
-- message understandable on its own (a thread's replies, the answer a thumbs-down was about).
-- feedback_insights: the documentation problems found in a message (one per message without a model), each with
-- its local embedding (all-MiniLM-L6-v2, 384 dimensions, like the code chunks).
-- feedback_clusters (+ feedback_cluster_members): density clusters of insights; a candidate is in at most one
-- cluster, and a cluster keeps its id from run to run while it keeps most of its members.
-- doc_tickets (+ doc_ticket_evidence): drafts and the Jira / Linear issues they became, with the messages that
-- are their evidence; a message is evidence of a ticket once, so a run over the same week adds nothing.
-- feedback_runs: what each run read, clustered, created and updated, and what its model calls cost.
-- feedback_cursors: where each channel was last read up to.

CREATE TABLE feedback_runs (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    job_id BIGINT UNIQUE,
    trigger VARCHAR(16) NOT NULL CHECK (trigger IN ('schedule', 'api', 'cli')),
    status VARCHAR(16) NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    read_counts JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(read_counts) = 'object'),
    messages_read INT NOT NULL DEFAULT 0,
    candidates INT NOT NULL DEFAULT 0,
    clusters INT NOT NULL DEFAULT 0,
    significant INT NOT NULL DEFAULT 0,
    tickets_created INT NOT NULL DEFAULT 0,
    tickets_updated INT NOT NULL DEFAULT 0,
    input_tokens INT NOT NULL DEFAULT 0,
    output_tokens INT NOT NULL DEFAULT 0,
    cost_usd NUMERIC(14, 6) NOT NULL DEFAULT 0,
    errors JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(errors) = 'array'),
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX feedback_runs_team_idx ON feedback_runs (team_id, id DESC);

CREATE TABLE feedback_cursors (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source VARCHAR(16) NOT NULL,
    channel VARCHAR(300) NOT NULL,
    position VARCHAR(100) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, source, channel)
);

CREATE TABLE feedback_messages (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    source VARCHAR(16) NOT NULL CHECK (source IN ('discord', 'slack', 'chat', 'github', 'api')),
    external_id VARCHAR(300) NOT NULL,
    connection_id BIGINT REFERENCES integrations (id) ON DELETE SET NULL,
    channel VARCHAR(300),
    thread_id VARCHAR(300),
    author_id VARCHAR(200),
    author_name VARCHAR(200),
    text TEXT NOT NULL,
    context TEXT,
    url VARCHAR(1000),
    posted_at TIMESTAMPTZ NOT NULL,
    run_id BIGINT REFERENCES feedback_runs (id) ON DELETE SET NULL,
    analysed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, source, external_id)
);
CREATE INDEX feedback_messages_pending_idx ON feedback_messages (team_id, id) WHERE analysed_at IS NULL;

CREATE TABLE feedback_insights (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES feedback_messages (id) ON DELETE CASCADE,
    problem TEXT NOT NULL,
    tried TEXT,
    missing TEXT,
    quote TEXT NOT NULL,
    embedding vector(384) NOT NULL,
    embedding_model VARCHAR(128) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feedback_insights_team_idx ON feedback_insights (team_id, created_at);

CREATE TABLE feedback_clusters (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    run_id BIGINT REFERENCES feedback_runs (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    size INT NOT NULL CHECK (size >= 1),
    people INT NOT NULL CHECK (people >= 0),
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    significant BOOLEAN NOT NULL,
    centroid vector(384) NOT NULL,
    ticket_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feedback_clusters_team_idx ON feedback_clusters (team_id, id DESC);

CREATE TABLE feedback_cluster_members (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    cluster_id BIGINT NOT NULL REFERENCES feedback_clusters (id) ON DELETE CASCADE,
    insight_id BIGINT NOT NULL UNIQUE REFERENCES feedback_insights (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES feedback_messages (id) ON DELETE CASCADE
);
CREATE INDEX feedback_cluster_members_cluster_idx ON feedback_cluster_members (cluster_id);

CREATE TABLE doc_tickets (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    cluster_id BIGINT REFERENCES feedback_clusters (id) ON DELETE SET NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'open', 'resolved', 'reopened', 'rejected')),
    title VARCHAR(250) NOT NULL,
    summary TEXT NOT NULL,
    suggestion TEXT,
    pages JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(pages) = 'array'),
    evidence_count INT NOT NULL DEFAULT 0,
    embedding vector(384) NOT NULL,
    tracker VARCHAR(16) CHECK (tracker IN ('jira', 'linear')),
    connection_id BIGINT REFERENCES integrations (id) ON DELETE SET NULL,
    external_id VARCHAR(100),
    external_url VARCHAR(1000),
    external_status VARCHAR(100),
    approved_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    approved_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    notified_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status IN ('draft', 'rejected') OR external_id IS NOT NULL),
    UNIQUE (team_id, tracker, external_id)
);
CREATE INDEX doc_tickets_team_idx ON doc_tickets (team_id, status, id DESC);
ALTER TABLE feedback_clusters
    ADD CONSTRAINT feedback_clusters_ticket_fk FOREIGN KEY (ticket_id) REFERENCES doc_tickets (id) ON DELETE SET NULL;

CREATE TABLE doc_ticket_evidence (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    ticket_id BIGINT NOT NULL REFERENCES doc_tickets (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES feedback_messages (id) ON DELETE CASCADE,
    run_id BIGINT REFERENCES feedback_runs (id) ON DELETE SET NULL,
    reported BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, message_id)
);
