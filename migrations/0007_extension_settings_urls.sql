-- 0007: what the extension and its local binary keep per user: terminal settings and saved URLs.
-- Both are keyed by the principal (team + user), like every other row a user reaches.

CREATE TABLE extension_settings (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enable_yolo_mode BOOLEAN NOT NULL DEFAULT false,
    command_deny_list JSONB NOT NULL CHECK (jsonb_typeof(command_deny_list) = 'array'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, user_id)
);

-- Bookmarks only: the server stores these addresses and never fetches them (the local binary does).
CREATE TABLE saved_urls (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL CHECK (length(name) > 0),
    url VARCHAR(2048) NOT NULL CHECK (url ~* '^https?://'),
    last_indexed TIMESTAMPTZ,
    is_deleted BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The list (newest first) and the per-user cap both read only the live rows of one principal.
CREATE INDEX saved_urls_owner_live_idx ON saved_urls (team_id, user_id, created_at DESC, id DESC)
    WHERE NOT is_deleted;
