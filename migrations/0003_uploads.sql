-- 0003: uploaded bytes live in PostgreSQL, so every worker and machine can serve them without shared disks;
-- instance_secrets holds keys every worker must agree on (e.g. for signing upload and download URLs).

CREATE TABLE attachment_blobs (
    attachment_id BIGINT PRIMARY KEY REFERENCES attachments (id) ON DELETE CASCADE,
    content BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE instance_secrets (
    name VARCHAR(64) PRIMARY KEY,
    value VARCHAR(128) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
