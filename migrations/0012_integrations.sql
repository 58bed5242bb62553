-- 0012: a team's connections to the services its workflows use (SCM, trackers, docs, chat platforms).
-- Credentials and the webhook secret are sealed with AES-GCM (app/runtime/secret_box.py), bound to the row's
-- public id, never stored in clear; `hook_id` is the unguessable part of the connection's webhook URL.

CREATE TABLE integrations (
    id BIGSERIAL PRIMARY KEY,
    public_id VARCHAR(32) NOT NULL UNIQUE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    kind VARCHAR(20) NOT NULL CHECK (kind IN ('github', 'gitlab', 'bitbucket', 'jira', 'confluence', 'linear', 'slack', 'discord')),
    name VARCHAR(100) NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    base_url VARCHAR(500) NOT NULL CHECK (base_url ~* '^https?://'),
    auth_type VARCHAR(20) NOT NULL CHECK (auth_type IN ('token', 'app', 'basic')),
    credentials_sealed TEXT NOT NULL,
    webhook_secret_sealed TEXT,
    hook_id VARCHAR(40) NOT NULL UNIQUE,
    options JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(options) = 'object'),
    last_tested_at TIMESTAMPTZ,
    last_test_ok BOOLEAN,
    last_test_detail VARCHAR(500),
    identity_login VARCHAR(200),
    scopes JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(scopes) = 'array'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, name)
);
CREATE INDEX integrations_team_kind_idx ON integrations (team_id, kind);

-- Why the selector chose the query's agent ("names ticket PAY-142", "the user asked for /docs"): shown in
-- history next to the agent's name.
ALTER TABLE user_queries ADD COLUMN agent_reason VARCHAR(300);
