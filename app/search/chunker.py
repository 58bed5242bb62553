"""AST-aware chunking: definitions (functions, classes, methods) become chunks; small neighbours are merged
up to a size cap; definitions too large for one chunk are split along their children; anything still too
large is cut by lines. Files without a grammar are cut into line windows.

Every chunk carries its path, 1-based inclusive line range, language, the hierarchy of definitions that
enclose it (e.g. class Parser > method parse), the innermost symbol, and every name defined inside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tree_sitter import Node

from app.search.languages import BINDINGS, binds_function, definition_kinds, definition_name, has_grammar, parser_for
from app.search.words import search_words

# Two versions of what indexing derives from a file's text. Above 1, each is bound into a hash, so bumping it
# makes the next index run redo that step once for every file; version 1 keeps the plain hashes every index
# was built with before the versions existed.
# CHUNK_FORMAT: how a file is cut into chunks (bound into the stored file hash: every file is re-chunked; a
# chunk whose path and text did not change keeps its stored vector).
# EMBEDDING_FORMAT: what the model reads for a chunk (bound into every chunk's hash: every chunk is
# re-embedded and no vector of the old format is reused).
CHUNK_FORMAT = 2  # 2: definitions of 120 characters stand alone (was 250): bench/search_product_eval.py
EMBEDDING_FORMAT = 1
MAX_CHARS = 1800
MIN_CHARS = 120
WINDOW_LINES = 60


@dataclass
class Chunk:
    path: str
    start_line: int
    end_line: int
    language: str
    text: str
    hierarchy: list[dict[str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def symbol(self) -> str | None:
        return self.hierarchy[-1]["value"] if self.hierarchy else None

    @property
    def content_hash(self) -> str:
        versioned = "" if EMBEDDING_FORMAT == 1 else f"{EMBEDDING_FORMAT}\n"
        return hashlib.sha256(f"{versioned}{self.path}\n{self.text}".encode()).hexdigest()

    @property
    def denotation(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def embedding_text(self) -> str:
        """What the embedding model reads: where the code is, what it defines, then the code."""
        where = " > ".join(f"{h['type']} {h['value']}" for h in self.hierarchy)
        return f"{self.path}\n{where}\n{self.text}" if where else f"{self.path}\n{self.text}"

    def search_text(self) -> str:
        """Full-text input: the path, the names, and identifiers split into words (parseConfig -> parse config)."""
        return search_words(" ".join([self.path.replace("/", " "), " ".join(self.names), self.text]))


def indexed_file_hash(content_hash: str) -> str:
    """The hash stored for an indexed file: its content's, bound to the chunk format."""
    if CHUNK_FORMAT == 1:
        return content_hash
    return hashlib.sha256(f"{CHUNK_FORMAT}\n{content_hash}".encode()).hexdigest()


def chunk_file(
    path: str, text: str, language: str, *, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS
) -> list[Chunk]:
    if not text.strip():
        return []
    if has_grammar(language):
        return _AstChunker(path, text, language, max_chars, min_chars).run()
    return line_windows(path, text, language, max_chars)


def line_windows(path: str, text: str, language: str, max_chars: int = MAX_CHARS, first_line: int = 1) -> list[Chunk]:
    lines = text.splitlines()
    chunks: list[Chunk] = []
    start = 0
    while start < len(lines):
        end, size = start, 0
        while (
            end < len(lines)
            and end - start < WINDOW_LINES
            and (size + len(lines[end]) + 1 <= max_chars or end == start)
        ):
            size += len(lines[end]) + 1
            end += 1
        body = "\n".join(lines[start:end])
        if body.strip():
            chunks.append(Chunk(path, first_line + start, first_line + end - 1, language, body))
        start = end
    return chunks


class _AstChunker:
    def __init__(self, path: str, text: str, language: str, max_chars: int, min_chars: int) -> None:
        self.path = path
        self.source = text.encode("utf-8")
        self.lines = text.splitlines()
        # offsets[i] = characters before line i (newlines counted): sizes are measured on whole lines,
        # because that is what a chunk's text is.
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line) + 1)
        self.language = language
        self.kinds = definition_kinds(language)
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.chunks: list[Chunk] = []

    def run(self) -> list[Chunk]:
        tree = parser_for(self.language).parse(self.source)
        self._split(tree.root_node, [])
        return self._merge_small(self.chunks)

    def _merge_small(self, chunks: list[Chunk]) -> list[Chunk]:
        """Fold fragments (a class header, a signature cut from its body, a stray statement) into the
        adjacent chunk when the result still fits: tiny chunks retrieve badly."""
        merged: list[Chunk] = []
        for chunk in chunks:
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and chunk.start_line - previous.end_line <= 2
                and (len(previous.text) < self.min_chars or len(chunk.text) < self.min_chars)
            ):
                text = "\n".join(self.lines[previous.start_line - 1 : chunk.end_line])
                if len(text) <= self.max_chars:
                    deeper = chunk if len(chunk.hierarchy) >= len(previous.hierarchy) else previous
                    merged[-1] = Chunk(
                        self.path,
                        previous.start_line,
                        chunk.end_line,
                        self.language,
                        text,
                        list(deeper.hierarchy),
                        [*previous.names, *chunk.names],
                    )
                    continue
            merged.append(chunk)
        return merged

    # --- structure ---------------------------------------------------------------------------------------

    def _definition(self, node: Node) -> tuple[dict[str, str], Node] | None:
        """The label a definition node adds to the hierarchy, and the node that carries the definition
        (the declaration inside a decorator or export wrapper)."""
        if not node.is_named:  # keywords share their node type with the construct (ruby: `class`)
            return None
        target = node
        if node.type in ("decorated_definition", "export_statement"):
            target = (
                node.child_by_field_name("definition")
                or node.child_by_field_name("declaration")
                or next((c for c in node.named_children if c.type in self.kinds), node)
            )
        kind = self.kinds.get(target.type)
        if kind is None or (target.type in BINDINGS and not binds_function(target)):
            return None
        return {"type": kind, "value": definition_name(target) or "<anonymous>"}, target

    def _names(self, node: Node) -> list[str]:
        found: list[str] = []
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type in self.kinds and (current.type not in BINDINGS or binds_function(current)):
                name = definition_name(current)
                if name:
                    found.append(name)
            stack.extend(reversed(current.named_children))
        return found

    @staticmethod
    def _rows(first: Node, last: Node) -> tuple[int, int]:
        start, end = first.start_point.row, last.end_point.row
        if last.end_point.column == 0 and end > start:
            end -= 1  # a node ending at column 0 ends on the previous line
        return start, end

    def _span(self, first: Node, last: Node) -> int:
        """Characters of the whole lines from `first` to `last` (the chunk text they would make)."""
        start, end = self._rows(first, last)
        end = min(end, len(self.lines) - 1)
        return self.offsets[end + 1] - self.offsets[start] - 1 if end >= start else 0

    def _split(self, node: Node, hierarchy: list[dict[str, str]], labelled: Node | None = None) -> None:
        """`labelled` is a definition inside `node` whose label is already the last in `hierarchy`."""
        group: list[Node] = []
        for child in node.children:
            found = None if labelled is not None and child == labelled else self._definition(child)
            label, target = found if found else (None, None)
            if label is not None and label["type"] == "function" and hierarchy and hierarchy[-1]["type"] == "class":
                label = {"type": "method", "value": label["value"]}
            inner = [*hierarchy, label] if label else hierarchy
            size = self._span(child, child)
            if size > self.max_chars:
                self._emit(group, hierarchy)
                group = []
                if child.child_count:
                    self._split(child, inner, target if target is not None and target != child else None)
                else:
                    self._emit_lines(child, inner)
                continue
            if label is not None and size >= self.min_chars:
                self._emit(group, hierarchy)
                group = []
                self._emit([child], inner)
                continue
            if group and self._span(group[0], child) > self.max_chars:
                self._emit(group, hierarchy)
                group = []
            group.append(child)
        self._emit(group, hierarchy)

    # --- output ----------------------------------------------------------------------------------------

    def _emit(self, nodes: list[Node], hierarchy: list[dict[str, str]]) -> None:
        nodes = [n for n in nodes if n.end_byte > n.start_byte]
        if not nodes:
            return
        start, end = self._rows(nodes[0], nodes[-1])
        text = "\n".join(self.lines[start : end + 1])
        if not text.strip():
            return
        names = [name for n in nodes for name in self._names(n)]
        if len(text) > self.max_chars:  # only when a node had no children to split along
            for window in line_windows(self.path, text, self.language, self.max_chars, first_line=start + 1):
                window.hierarchy, window.names = list(hierarchy), names
                self.chunks.append(window)
            return
        self.chunks.append(Chunk(self.path, start + 1, end + 1, self.language, text, list(hierarchy), names))

    def _emit_lines(self, node: Node, hierarchy: list[dict[str, str]]) -> None:
        start = node.start_point.row
        text = "\n".join(self.lines[start : node.end_point.row + 1])
        for window in line_windows(self.path, text, self.language, self.max_chars, first_line=start + 1):
            window.hierarchy = list(hierarchy)
            self.chunks.append(window)
