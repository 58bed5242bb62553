-- 0017: release notes (docs/release-notes.md).
--
-- One row per generated range of an indexed repository: the range as asked and as resolved, the version, both
-- Markdown variants as they stand now, the facts they were written from (JSON), how they were written (generator,
-- model, why a model's rewrite was not kept), and the review state draft -> approved -> published with who
-- approved when. `job_id` is the job that generated it, unique, so a job run again finds its row instead of
-- writing a second one. Every text as generated and every edit by a person is a revision; the row holds the
-- latest. Approved notes keep an embedding of their external text, so later polish passes can find earlier
-- notes of the same repository for voice.

CREATE TABLE release_notes (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    job_id BIGINT UNIQUE,
    requested_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    from_ref VARCHAR(200),
    to_ref VARCHAR(200) NOT NULL,
    from_sha VARCHAR(64),
    to_sha VARCHAR(64) NOT NULL,
    path_scope VARCHAR(500),
    tag_pattern VARCHAR(100),
    version VARCHAR(200),
    internal_md TEXT NOT NULL,
    external_md TEXT NOT NULL,
    facts JSONB NOT NULL CHECK (jsonb_typeof(facts) = 'object'),
    generator VARCHAR(20) NOT NULL CHECK (generator IN ('deterministic', 'model')),
    model VARCHAR(128),
    polish_reason TEXT,
    status VARCHAR(16) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'published')),
    revision INT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    approved_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    approved_at TIMESTAMPTZ,
    published_at TIMESTAMPTZ,
    publications JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(publications) = 'array'),
    embedding vector,
    embedding_model VARCHAR(128),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status = 'draft' OR approved_at IS NOT NULL),
    CHECK (status <> 'published' OR published_at IS NOT NULL),
    CHECK ((embedding IS NULL) = (embedding_model IS NULL))
);
CREATE INDEX release_notes_team_idx ON release_notes (team_id, id DESC);
CREATE INDEX release_notes_voice_idx ON release_notes (team_id, repository_id) WHERE embedding IS NOT NULL;

CREATE TABLE release_note_revisions (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    release_note_id BIGINT NOT NULL REFERENCES release_notes (id) ON DELETE CASCADE,
    revision INT NOT NULL CHECK (revision >= 1),
    internal_md TEXT NOT NULL,
    external_md TEXT NOT NULL,
    source VARCHAR(16) NOT NULL CHECK (source IN ('generated', 'edit')),
    edited_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    note TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (release_note_id, revision)
);
