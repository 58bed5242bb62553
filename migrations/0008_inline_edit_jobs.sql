-- 0008: inline-edit jobs (one model turn each, polled by the client). A job answering another job's tool
-- request continues its conversation: `root_job_id` names the conversation, `messages` holds what this job
-- added to it (so any worker can rebuild and continue it), `deadline_at` bounds how long it may stay PENDING
-- even if the worker running it died.

CREATE TABLE inline_edit_jobs (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    root_job_id BIGINT REFERENCES inline_edit_jobs (id) ON DELETE CASCADE,
    continues_job_id BIGINT REFERENCES inline_edit_jobs (id) ON DELETE SET NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
    model VARCHAR(128) NOT NULL,
    query TEXT NOT NULL,
    messages JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(messages) = 'array'),
    step_count INT NOT NULL DEFAULT 0 CHECK (step_count >= 0),
    response JSONB,
    tool_use_id VARCHAR(64) CHECK (tool_use_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    tool_name VARCHAR(128),
    failure TEXT,
    deadline_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    -- A settled job says how: COMPLETED carries its response, FAILED its reason.
    CHECK (status = 'PENDING' OR finished_at IS NOT NULL),
    CHECK (status <> 'COMPLETED' OR response IS NOT NULL),
    CHECK (status <> 'FAILED' OR failure IS NOT NULL)
);
CREATE INDEX inline_edit_jobs_conversation_idx ON inline_edit_jobs (root_job_id, id) WHERE root_job_id IS NOT NULL;
-- One follow-up per answered tool request: a re-sent tool_use_response finds the job it already started.
CREATE UNIQUE INDEX inline_edit_jobs_one_continuation ON inline_edit_jobs (continues_job_id)
    WHERE continues_job_id IS NOT NULL;
CREATE INDEX inline_edit_jobs_tool_use_idx ON inline_edit_jobs (session_id, tool_use_id) WHERE tool_use_id IS NOT NULL;
