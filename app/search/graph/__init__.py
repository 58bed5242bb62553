"""The symbol graph of indexed code: definitions, imports, calls and other uses, extracted from the syntax
tree of each file when it is indexed and stored beside its chunks (replaced and deleted with them).

- `extract` reads one file (`python` fully, `grammars` for JavaScript/TypeScript/TSX, Go, Java, Rust,
  C/C++, Ruby and Kotlin); `store` turns that into the rows the indexer writes with the file's chunks.
- `queries` answers `definitions`, `references`, `callers` and `callees` for a symbol in one repository,
  resolving each reference against the repository's current definitions (unresolved ones keep their
  text and say so); `questions` is the team-scoped, paginated form every client uses, `tool` the agents'
  `code_graph` server tool.

Expansion, for retrieval that wants the neighbourhood of what it found::

    from app.search.graph.queries import expand

    neighbours = await expand(chunk_ids, team_id=team_id, depth=1, limit=20)

returns `Neighbour`s (chunk id, repository, path, lines, text, `relation` "caller" or "callee", `via` the
qualified name of the definition that links them, `depth`), nearest first: for each given chunk, the
chunks that call what it defines and the chunks defining what it calls, then (depth 2) theirs. Given
chunks are never returned, and chunks the team does not own are ignored, as if unknown.
"""
