-- 0018: review feedback into precision. One row per feedback signal on one of our review comments (a reaction,
-- an `/adjutant ignore`, a thread resolved without a change, the anchored lines changed by a later commit, an IDE
-- thumb), unique per source comment, kind and actor so a signal read again on every run counts once; and the
-- last known state of each category of a repository (demoted or not), so a change of state is audited once.

CREATE TABLE review_feedback_signals (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository VARCHAR(300) NOT NULL,
    category VARCHAR(64) NOT NULL,
    source VARCHAR(16) NOT NULL CHECK (source IN ('github', 'gitlab', 'bitbucket', 'ide')),
    source_comment VARCHAR(64) NOT NULL,
    kind VARCHAR(24) NOT NULL CHECK (
        kind IN ('thumbs_up', 'thumbs_down', 'ignored', 'resolved_unchanged', 'lines_changed', 'ide_vote')
    ),
    actor VARCHAR(200) NOT NULL,
    useful BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, source, source_comment, kind, actor)
);
CREATE INDEX review_feedback_signals_repo_idx ON review_feedback_signals (team_id, repository, category);

CREATE TABLE review_category_states (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository VARCHAR(300) NOT NULL,
    category VARCHAR(64) NOT NULL,
    demoted BOOLEAN NOT NULL DEFAULT false,
    precision_floor DOUBLE PRECISION NOT NULL CHECK (precision_floor >= 0 AND precision_floor <= 1),
    min_signals INT NOT NULL CHECK (min_signals >= 1),
    demotion VARCHAR(16) NOT NULL CHECK (demotion IN ('raise_threshold', 'summary_only')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, repository, category)
);
