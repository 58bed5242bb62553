-- 0004: every chat request looks for a running step with the same fingerprint (duplicate re-sends attach to
-- it instead of calling the model twice); index exactly those rows.
CREATE INDEX steps_running_fingerprint_idx ON steps (request_fingerprint) WHERE status = 'RUNNING';
