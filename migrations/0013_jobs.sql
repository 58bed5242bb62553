-- 0013: job records and schedules.
--
-- A job's transport (Redis Streams or Kafka) carries only its id; this row is the truth about it. `attempts`
-- counts starts (a worker that died mid-job used one up), `lease_until` is how long the worker running it is
-- trusted to be alive, `published_at` is when it was last handed to the transport (a job due to run that was
-- not taken for long is handed over again). The idempotency key is unique per team: enqueueing it again finds
-- the same row, so a job that succeeded never runs again.
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind VARCHAR(100) NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    idempotency_key VARCHAR(200) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD')),
    attempts INT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INT NOT NULL CHECK (max_attempts >= 1),
    last_error TEXT,
    result JSONB,
    worker VARCHAR(100),
    lease_until TIMESTAMPTZ,
    run_after TIMESTAMPTZ,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (team_id, idempotency_key),
    -- A running job names who runs it and until when; a failed one when it is tried again.
    CHECK (status <> 'RUNNING' OR (worker IS NOT NULL AND lease_until IS NOT NULL)),
    CHECK (status <> 'FAILED' OR run_after IS NOT NULL)
);
CREATE INDEX jobs_team_idx ON jobs (team_id, id DESC);
-- The recovery sweep and the queue-depth gauges read only unfinished and dead jobs.
CREATE INDEX jobs_unfinished_idx ON jobs (status, kind) WHERE status IN ('QUEUED', 'RUNNING', 'FAILED', 'DEAD');
-- Finished jobs are deleted after jobs.keep_succeeded_days / keep_dead_days.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE status IN ('SUCCEEDED', 'DEAD');

-- A team's recurring job: `next_run_at` is the next tick. A worker fires a tick by moving it forward with a
-- conditional update (WHERE next_run_at = the tick it saw), so of any number of workers exactly one fires it;
-- after downtime the next tick is computed from now, so missed ticks fire once, not once each.
CREATE TABLE schedules (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    kind VARCHAR(100) NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    cron VARCHAR(200) NOT NULL,
    time_zone VARCHAR(64) NOT NULL,
    next_run_at TIMESTAMPTZ NOT NULL,
    last_run_at TIMESTAMPTZ,
    last_job_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, name)
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at);
