"""What one file contributes to the symbol graph: its definitions and the names it uses, from its syntax tree.

Python is read in full (imports, aliases, relative imports, `self.`/`cls.` calls, plain uses of imported or
file-level names); the other grammars the chunker supports get definitions, calls and, for JavaScript,
TypeScript and Java, imports (see `app.search.graph.grammars`). A reference's `target` is only a claim
derived from this one file; `app.search.graph.queries` checks it against the repository's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from app.search.languages import has_grammar, parser_for

REFERENCE_KINDS = ("call", "import", "use", "base")
MAX_NAME_CHARS = 200  # a call on a long expression keeps a prefix of its text: enough to recognise it


@dataclass(frozen=True)
class Definition:
    kind: str
    name: str
    qualified: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Reference:
    kind: str  # call | import | use | base (a class's base class; `source` is the class)
    name: str  # as written (`self.save`, `x.load`, `Invoice`) or, for an import, the name it binds
    target: str | None  # the qualified name it points at, when this file tells
    source: str  # the qualified name of the enclosing definition (the module at top level)
    line: int

    @property
    def short(self) -> str:
        """The name a definition it means would have: an alias (`vat` for `rate_for as vat`) is looked up
        under what it stands for."""
        return (self.target or self.name).rsplit(".", 1)[-1]


@dataclass
class FileGraph:
    module: str
    package: str  # what a relative import starts from: the module's parent, or itself for a package file
    definitions: list[Definition] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)


# File names that stand for their directory.
PACKAGE_FILES = {
    "python": ("__init__",),
    "javascript": ("index",),
    "typescript": ("index",),
    "tsx": ("index",),
    "rust": ("mod", "lib"),
}


def module_name(path: str, language: str) -> str:
    """The dotted name a file's definitions live under: `src/pkg/mod.py` -> `src.pkg.mod`; a package's
    `__init__.py` (an `index.ts`, a `mod.rs`) names its directory, and in Go the directory is the package.
    Leading source roots stay: resolution matches qualified names on dotted suffixes, so `pkg.mod.f` still
    finds `src.pkg.mod.f`."""
    pure = PurePosixPath(path)
    parts = [p for p in pure.parent.parts if p not in ("", ".")]
    if language != "go" and (pure.stem not in PACKAGE_FILES.get(language, ()) or not parts):
        parts.append(pure.stem)
    return ".".join(parts) or pure.stem


def extract(path: str, text: str, language: str | None) -> FileGraph | None:
    """The file's graph, or None for a file without a grammar (it has no symbols, only text)."""
    if language is None or not has_grammar(language) or not text.strip():
        return None
    # Imported here, not at module level: both extractors import the data types above.
    from app.search.graph import grammars, python

    tree = parser_for(language).parse(text.encode("utf-8"))
    module = module_name(path, language)
    lines = text.count("\n") + 1
    is_package = PurePosixPath(path).stem in PACKAGE_FILES.get(language, ())
    package = module if is_package else module.rpartition(".")[0]
    graph = FileGraph(module, package, [Definition("module", module.rsplit(".", 1)[-1] or path, module, 1, lines)])
    if language == "python":
        python.PythonExtractor(graph).run(tree.root_node)
    else:
        grammars.GrammarExtractor(graph, language, path).run(tree.root_node)
    return graph


def clip(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS]
