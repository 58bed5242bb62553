-- 0002: what the query solver needs beyond the foundation schema.
-- transcript_messages: the provider-neutral conversation as the model saw it (thinking signatures, tool call
-- ids, internal notices), replayed as context; chat_elements stay the protocol-shaped history for clients.

CREATE TABLE transcript_messages (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_query_id BIGINT REFERENCES user_queries (id) ON DELETE CASCADE,
    step_id BIGINT REFERENCES steps (id) ON DELETE SET NULL,
    role VARCHAR(16) NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    message JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transcript_messages_session_idx ON transcript_messages (session_id, id);

-- A continuation step answers the tool uses of exactly one earlier step.
ALTER TABLE steps ADD COLUMN continues_step_id BIGINT REFERENCES steps (id) ON DELETE SET NULL;
CREATE INDEX steps_continues_idx ON steps (continues_step_id) WHERE continues_step_id IS NOT NULL;
