-- 0010: the indexing job a repository row is waiting for. Queueing a job is a conditional update of this
-- column, so two concurrent requests cannot both queue one, and a superseded job knows to do nothing.
ALTER TABLE repositories ADD COLUMN index_job VARCHAR(32);
