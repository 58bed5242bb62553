"""Languages we parse with tree-sitter (grammars from wheels), and what counts as a definition in each."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class Grammar:
    name: str
    module: str
    function: str = "language"
    # node type -> the kind shown in symbol hierarchies
    definitions: tuple[tuple[str, str], ...] = ()
    # wrappers whose inner declaration carries the name (decorators, exports)
    wrappers: tuple[str, ...] = ()


# TypeScript and TSX share one grammar package and one set of definitions.
TYPESCRIPT = (
    ("class_declaration", "class"),
    ("abstract_class_declaration", "class"),
    ("interface_declaration", "interface"),
    ("function_declaration", "function"),
    ("method_definition", "method"),
    ("enum_declaration", "enum"),
    ("type_alias_declaration", "type"),
    ("lexical_declaration", "function"),  # only when it binds a function: see binds_function
    ("variable_declaration", "function"),
)

GRAMMARS: dict[str, Grammar] = {
    "python": Grammar(
        "python",
        "tree_sitter_python",
        definitions=(("class_definition", "class"), ("function_definition", "function")),
        wrappers=("decorated_definition",),
    ),
    "javascript": Grammar(
        "javascript",
        "tree_sitter_javascript",
        definitions=(
            ("class_declaration", "class"),
            ("function_declaration", "function"),
            ("method_definition", "method"),
            ("generator_function_declaration", "function"),
            ("lexical_declaration", "function"),
            ("variable_declaration", "function"),
        ),
        wrappers=("export_statement",),
    ),
    "typescript": Grammar(
        "typescript", "tree_sitter_typescript", "language_typescript", TYPESCRIPT, wrappers=("export_statement",)
    ),
    "tsx": Grammar("tsx", "tree_sitter_typescript", "language_tsx", TYPESCRIPT, wrappers=("export_statement",)),
    "java": Grammar(
        "java",
        "tree_sitter_java",
        definitions=(
            ("class_declaration", "class"),
            ("interface_declaration", "interface"),
            ("enum_declaration", "enum"),
            ("record_declaration", "class"),
            ("method_declaration", "method"),
            ("constructor_declaration", "method"),
        ),
    ),
    "go": Grammar(
        "go",
        "tree_sitter_go",
        definitions=(
            ("function_declaration", "function"),
            ("method_declaration", "method"),
            ("type_declaration", "type"),
        ),
    ),
    "rust": Grammar(
        "rust",
        "tree_sitter_rust",
        definitions=(
            ("function_item", "function"),
            ("impl_item", "impl"),
            ("struct_item", "struct"),
            ("enum_item", "enum"),
            ("trait_item", "trait"),
            ("mod_item", "module"),
        ),
    ),
    "ruby": Grammar(
        "ruby",
        "tree_sitter_ruby",
        definitions=(("class", "class"), ("module", "module"), ("method", "method"), ("singleton_method", "method")),
    ),
    "c": Grammar(
        "c", "tree_sitter_c", definitions=(("function_definition", "function"), ("struct_specifier", "struct"))
    ),
    "cpp": Grammar(
        "cpp",
        "tree_sitter_cpp",
        definitions=(
            ("function_definition", "function"),
            ("class_specifier", "class"),
            ("struct_specifier", "struct"),
            ("namespace_definition", "namespace"),
        ),
    ),
    "kotlin": Grammar(
        "kotlin",
        "tree_sitter_kotlin",
        definitions=(
            ("class_declaration", "class"),
            ("object_declaration", "object"),
            ("function_declaration", "function"),
        ),
    ),
}

EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".rb": "ruby",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".kt": "kotlin",
    ".kts": "kotlin",
}
# Text formats worth indexing by line windows (no grammar).
TEXT_EXTENSIONS = {
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".sql": "sql",
    ".sh": "shell",
    ".bash": "shell",
    ".html": "html",
    ".css": "css",
    ".scss": "css",
    ".xml": "xml",
    ".gradle": "gradle",
    ".swift": "swift",
    ".php": "php",
    ".scala": "scala",
    ".cs": "csharp",
    ".lua": "lua",
    ".proto": "protobuf",
    ".tf": "terraform",
    ".vue": "vue",
    ".svelte": "svelte",
}
SPECIAL_NAMES = {"Dockerfile": "dockerfile", "Makefile": "make", "CMakeLists.txt": "cmake"}


def language_of(path: str) -> str | None:
    pure = PurePosixPath(path)
    if pure.name in SPECIAL_NAMES:
        return SPECIAL_NAMES[pure.name]
    suffix = pure.suffix.lower()
    return EXTENSIONS.get(suffix) or TEXT_EXTENSIONS.get(suffix)


def has_grammar(language: str | None) -> bool:
    return language in GRAMMARS


@functools.cache
def parser_for(language: str) -> Parser:
    grammar = GRAMMARS[language]
    module = importlib.import_module(grammar.module)
    return Parser(Language(getattr(module, grammar.function)()))


@functools.cache
def definition_kinds(language: str) -> dict[str, str]:
    return dict(GRAMMARS[language].definitions)


# JS/TS variable declarations: definitions only when they bind a function (`const load = async () => ...`).
BINDINGS = frozenset({"lexical_declaration", "variable_declaration"})
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def binds_function(node: Node) -> bool:
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    value = declarators[0].child_by_field_name("value") if len(declarators) == 1 else None
    return value is not None and value.type in FUNCTION_VALUES


def definition_name(node: Node) -> str | None:
    """The name a definition node declares, across the grammars' different shapes."""
    if node.type in BINDINGS:
        declarator = next((c for c in node.named_children if c.type == "variable_declarator"), None)
        name = declarator.child_by_field_name("name") if declarator is not None else None
        return _text(name) if name is not None else None
    named = node.child_by_field_name("name")
    if named is not None:
        return _text(named)
    if node.type == "impl_item":  # rust: impl Type / impl Trait for Type
        target = node.child_by_field_name("type")
        return _text(target) if target is not None else None
    if node.type == "type_declaration":  # go: type Name struct {...}
        for child in node.named_children:
            inner = child.child_by_field_name("name")
            if inner is not None:
                return _text(inner)
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:  # c/c++: int *name(args) -> descend to the identifier
        if declarator.type in (
            "identifier",
            "field_identifier",
            "qualified_identifier",
            "destructor_name",
            "operator_name",
            "type_identifier",
        ):
            return _text(declarator)
        declarator = declarator.child_by_field_name("declarator") or next(
            (c for c in declarator.named_children if c.type.endswith("identifier")), None
        )
    return None


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")
