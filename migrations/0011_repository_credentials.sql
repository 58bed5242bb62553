-- 0011: a git repository's credentials, sealed (AES-GCM, app/runtime/secret_box.py) and kept apart from
-- `source`, which holds the URL without them. Rows written before this keep their credentials in `source`
-- until their next index job seals them here and strips the URL.
ALTER TABLE repositories ADD COLUMN source_credentials TEXT;
