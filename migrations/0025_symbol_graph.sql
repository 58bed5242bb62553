-- 0025: the symbol graph (docs/search.md#symbol-graph).
--
-- Derived at indexing from the same files as the chunks, and replaced with them: every row belongs to a
-- file (deleting or re-indexing the file removes its rows) and carries its team and repository.
-- A reference keeps the name as written and, where imports or the enclosing class tell, the qualified name
-- it points at (`target`); whether that target is defined in the repository is decided when the graph is
-- queried, so one file changing never requires rewriting another file's rows. A `base` reference is a
-- class's base class (its `source` is the class), through which inherited methods resolve.

CREATE TABLE code_symbols (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language VARCHAR(32) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    name TEXT NOT NULL,
    qualified TEXT NOT NULL,
    start_line INT NOT NULL CHECK (start_line > 0),
    end_line INT NOT NULL CHECK (end_line >= start_line)
);
CREATE INDEX code_symbols_name_idx ON code_symbols (repository_id, name);
CREATE INDEX code_symbols_qualified_idx ON code_symbols (repository_id, qualified);
CREATE INDEX code_symbols_file_idx ON code_symbols (file_id);

CREATE TABLE code_references (
    id BIGSERIAL PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language VARCHAR(32) NOT NULL,
    kind VARCHAR(8) NOT NULL CHECK (kind IN ('call', 'import', 'use', 'base')),
    name TEXT NOT NULL,
    short TEXT NOT NULL,
    target TEXT,
    source TEXT NOT NULL,
    line INT NOT NULL CHECK (line > 0)
);
CREATE INDEX code_references_short_idx ON code_references (repository_id, short);
CREATE INDEX code_references_source_idx ON code_references (repository_id, source);
CREATE INDEX code_references_file_idx ON code_references (file_id);
