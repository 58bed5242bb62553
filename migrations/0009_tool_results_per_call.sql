-- 0009: a step may call the model several times (server tools are answered inside the step, then it may
-- still ask the client for tools), and every call's tool calls need their results before the next call.
-- A tool use records which call of its step asked for it; a tool-results message names the call it
-- answers. One results message per call, enforced here, so two workers continuing the same batch of tool
-- responses cannot both append it.
ALTER TABLE tool_uses ADD COLUMN call_index INT NOT NULL DEFAULT 1 CHECK (call_index >= 1);
ALTER TABLE transcript_messages ADD COLUMN answers_call INT CHECK (answers_call >= 1);
ALTER TABLE transcript_messages ADD CONSTRAINT transcript_messages_answers_call_is_tool
    CHECK (answers_call IS NULL OR role = 'tool');
-- Before this, a step got at most one results message (the first one counts; a racing duplicate does not).
UPDATE transcript_messages SET answers_call = 1
WHERE id IN (
    SELECT min(id) FROM transcript_messages WHERE role = 'tool' AND step_id IS NOT NULL GROUP BY step_id
);
CREATE UNIQUE INDEX transcript_messages_one_result_per_call ON transcript_messages (step_id, answers_call)
    WHERE answers_call IS NOT NULL;
