-- 0005: indexing runs as a background job; its progress is readable by any worker.
ALTER TABLE repositories ADD COLUMN progress JSONB;
