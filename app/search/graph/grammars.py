"""The symbol graph for the chunker's other grammars: definitions (the chunker's definition kinds), calls,
and imports where the language names them in the file (JavaScript/TypeScript `import`, Java `import`,
Go `import`, Rust `use`). Calls are resolved to this file's definitions, the enclosing class (`this.m()`,
`self.m()`, a Go receiver), the package (Go) or an import; anything else stays textual and unresolved."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from tree_sitter import Node

from app.search.graph.extract import Definition, FileGraph, Reference, clip
from app.search.languages import BINDINGS, binds_function, definition_kinds, definition_name

# Call node -> the field holding what is called.
CALLS: dict[str, dict[str, str]] = {
    "javascript": {"call_expression": "function", "new_expression": "constructor"},
    "typescript": {"call_expression": "function", "new_expression": "constructor"},
    "tsx": {"call_expression": "function", "new_expression": "constructor"},
    "go": {"call_expression": "function"},
    "rust": {"call_expression": "function"},
    "c": {"call_expression": "function"},
    "cpp": {"call_expression": "function"},
    "java": {"method_invocation": "name", "object_creation_expression": "type"},
    "ruby": {"call": "method"},
    "kotlin": {"call_expression": ""},
}
SELF_NAMES = frozenset({"this", "self", "super"})
CONTAINERS = frozenset({"class", "interface", "struct", "impl", "trait", "enum", "object", "type"})
DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
SEPARATORS = re.compile(r"\s*(::|->|\?\.|\.)\s*")


@dataclass
class _Call:
    name: str
    dotted: bool
    scope: str
    klass: str | None
    receiver: str | None  # a Go method's receiver variable, which stands for its type
    line: int


class GrammarExtractor:
    def __init__(self, graph: FileGraph, language: str, path: str) -> None:
        self.graph = graph
        self.language = language
        self.path = path
        self.kinds = definition_kinds(language)
        self.calls = CALLS.get(language, {})
        self.imports: dict[str, str] = {}
        self.pending: list[_Call] = []

    def run(self, root: Node) -> None:
        if self.language == "java":
            package = next((c for c in root.named_children if c.type == "package_declaration"), None)
            if package is not None and package.named_children:
                self._rename_module(_text(package.named_children[0]))
        self._walk(root, self.graph.module, None, None)
        self._resolve_calls()

    def _rename_module(self, module: str) -> None:
        first = self.graph.definitions[0]
        self.graph.module = module
        self.graph.definitions[0] = Definition("module", module.rsplit(".", 1)[-1], module, 1, first.end_line)

    # --- walk ----------------------------------------------------------------------------------------

    def _walk(self, node: Node, scope: str, klass: str | None, receiver: str | None) -> None:
        for child in node.named_children:
            self._visit(child, scope, klass, receiver)

    def _visit(self, node: Node, scope: str, klass: str | None, receiver: str | None) -> None:
        kind = self.kinds.get(node.type)
        if kind is not None and (node.type not in BINDINGS or binds_function(node)):
            name = definition_name(node) or "<anonymous>"
            if node.type == "method_declaration" and self.language == "go":
                receiver, owner = self._go_receiver(node)
                scope, klass = (f"{self.graph.module}.{owner}",) * 2 if owner else (scope, klass)
            if kind == "function" and klass is not None and klass == scope:
                kind = "method"
            qualified = f"{scope}.{name}"
            self.graph.definitions.append(
                Definition(kind, name, qualified, node.start_point.row + 1, node.end_point.row + 1)
            )
            self._walk(node, qualified, qualified if kind in CONTAINERS else klass, receiver)
            return
        if node.type in self.calls:
            self._call(node, scope, klass, receiver)
        elif node.type in ("import_statement", "import_declaration", "use_declaration"):
            self._import(node, scope)
            return
        self._walk(node, scope, klass, receiver)

    def _call(self, node: Node, scope: str, klass: str | None, receiver: str | None) -> None:
        field = self.calls[node.type]
        callee = node.child_by_field_name(field) if field else (node.named_children or [None])[0]
        if callee is None:
            return
        text = _text(callee)
        if node.type in ("method_invocation", "call"):  # java, ruby: receiver and name are separate fields
            obj = node.child_by_field_name("object") or node.child_by_field_name("receiver")
            text = f"{_text(obj)}.{text}" if obj is not None else text
        text = SEPARATORS.sub(".", text.strip())
        dotted = DOTTED.fullmatch(text) is not None
        self.pending.append(
            _Call(text if dotted else clip(text), dotted, scope, klass, receiver, node.start_point.row + 1)
        )

    # --- imports -------------------------------------------------------------------------------------

    def _import(self, node: Node, scope: str) -> None:
        line = node.start_point.row + 1
        if self.language in ("javascript", "typescript", "tsx"):
            source = node.child_by_field_name("source")
            if source is None:
                return
            module = self._js_module(_text(source).strip("'\"`"))
            for child in _descendants(node):
                if child.type == "import_specifier":
                    name = _text(child.child_by_field_name("name"))
                    alias = child.child_by_field_name("alias")
                    self._bind(_text(alias) if alias is not None else name, f"{module}.{name}", scope, line)
                elif child.type == "namespace_import" and child.named_children:
                    self._bind(_text(child.named_children[0]), module, scope, line)
                elif child.type == "identifier" and child.parent is not None and child.parent.type == "import_clause":
                    # A default import is usually named after what the module exports; checked when queried.
                    self._bind(_text(child), f"{module}.{_text(child)}", scope, line)
        elif self.language == "java":
            path = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
            if path is not None and not any(c.type == "asterisk" for c in node.named_children):
                dotted = _text(path)
                self._bind(dotted.rsplit(".", 1)[-1], dotted, scope, line)
        elif self.language == "go":
            for spec in _descendants(node):
                if spec.type == "import_spec":
                    path = _text(spec.child_by_field_name("path")).strip('"`')
                    alias = spec.child_by_field_name("name")
                    local = _text(alias) if alias is not None else path.rsplit("/", 1)[-1]
                    self._bind(local, path.replace("/", "."), scope, line)
        elif self.language == "rust":
            argument = node.child_by_field_name("argument")
            if argument is not None and argument.type in ("scoped_identifier", "identifier", "use_as_clause"):
                alias = argument.child_by_field_name("alias")
                path = argument.child_by_field_name("path") if argument.type == "use_as_clause" else argument
                dotted = _rust_path(_text(path))
                local = _text(alias) if alias is not None else dotted.rsplit(".", 1)[-1]
                self._bind(local, dotted, scope, line)

    def _js_module(self, source: str) -> str:
        if not source.startswith("."):
            return source.replace("/", ".")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), source))
        stem, extension = posixpath.splitext(joined)
        joined = stem if extension in (".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs") else joined
        parts = [p for p in joined.split("/") if p not in ("", ".")]
        if len(parts) > 1 and parts[-1] == "index":
            parts = parts[:-1]
        return ".".join(parts)

    def _bind(self, local: str, qualified: str, scope: str, line: int) -> None:
        self.imports[local] = qualified
        self.graph.references.append(Reference("import", local, qualified, scope, line))

    # --- resolution ----------------------------------------------------------------------------------

    def _go_receiver(self, node: Node) -> tuple[str | None, str | None]:
        receiver = node.child_by_field_name("receiver")
        declaration = next((c for c in receiver.named_children), None) if receiver is not None else None
        if declaration is None:
            return None, None
        name = declaration.child_by_field_name("name")
        kind = declaration.child_by_field_name("type")
        owner = _text(kind).lstrip("*").split("[", 1)[0] if kind is not None else None
        return (_text(name) if name is not None else None), owner

    def _resolve_calls(self) -> None:
        by_name: dict[str, list[str]] = {}
        for definition in self.graph.definitions[1:]:
            by_name.setdefault(definition.name, []).append(definition.qualified)
        for call in self.pending:
            target = self._target(call, by_name) if call.dotted else None
            self.graph.references.append(Reference("call", call.name, target, call.scope, call.line))

    def _target(self, call: _Call, by_name: dict[str, list[str]]) -> str | None:
        head, _, rest = call.name.partition(".")
        if call.klass is not None and rest and "." not in rest and (head in SELF_NAMES or head == call.receiver):
            return f"{call.klass}.{rest}"
        if head in self.imports:
            return f"{self.imports[head]}.{rest}" if rest else self.imports[head]
        if rest:
            return None
        if call.klass is not None and f"{call.klass}.{head}" in by_name.get(head, ()):
            return f"{call.klass}.{head}"  # a bare call to a sibling method (java, kotlin, c++)
        defined = [q for q in by_name.get(head, ()) if q.count(".") == self.graph.module.count(".") + 1]
        if defined:
            return defined[0]
        if self.language == "go":
            return f"{self.graph.module}.{head}"  # package scope spans the directory; checked when queried
        return None


def _rust_path(text: str) -> str:
    parts = [p for p in text.split("::") if p]
    while parts and parts[0] in ("crate", "self", "super"):
        parts = parts[1:]
    return ".".join(parts)


def _descendants(node: Node) -> list[Node]:
    found: list[Node] = []
    stack = list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(reversed(current.named_children))
    return found


def _text(node: Node | None) -> str:
    return (node.text or b"").decode("utf-8", errors="replace") if node is not None else ""
