"""Python's contribution to the symbol graph: definitions with qualified names, imports (absolute, relative,
aliased), calls and plain uses, resolved through this file's imports and scopes where they tell."""

from __future__ import annotations

from tree_sitter import Node

from app.search.graph.extract import Definition, FileGraph, Reference, clip

SELF_NAMES = ("self", "cls")
# Identifiers in these positions name something being bound, not used.
BINDING_PARENTS = frozenset({"parameters", "lambda_parameters", "list_splat_pattern", "dictionary_splat_pattern"})
NAMED_BINDINGS = frozenset({"default_parameter", "typed_default_parameter", "keyword_argument"})


class PythonExtractor:
    def __init__(self, graph: FileGraph) -> None:
        self.graph = graph
        self.module = graph.module
        self.imports: dict[str, str] = {}  # local name -> qualified name it binds
        self.top_level: dict[str, str] = {}  # name defined at module level -> qualified name

    def run(self, root: Node) -> None:
        for child in root.named_children:
            target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if target is not None and target.type in ("function_definition", "class_definition"):
                name = _text(target.child_by_field_name("name"))
                self.top_level[name] = f"{self.module}.{name}"
        self._walk(root, self.module, None, {})

    # --- scopes --------------------------------------------------------------------------------------

    def _walk(self, node: Node, scope: str, klass: str | None, local: dict[str, str]) -> None:
        for child in node.named_children:
            self._visit(child, scope, klass, local)

    def _visit(self, node: Node, scope: str, klass: str | None, local: dict[str, str]) -> None:
        kind = node.type
        if kind in ("function_definition", "class_definition"):
            self._definition(node, scope, klass, local)
        elif kind == "decorator":
            expression = node.named_children[0] if node.named_children else None
            if expression is not None and expression.type != "call":
                self._call(expression, node, scope, klass, local)  # `@wraps` applies wraps: a call
            elif expression is not None:
                self._visit(expression, scope, klass, local)
        elif kind in ("import_statement", "import_from_statement"):
            self._import(node, scope)
        elif kind == "call":
            function = node.child_by_field_name("function")
            if function is not None:
                self._call(function, node, scope, klass, local)
                if function.type not in ("identifier", "attribute") or self._dotted(function) is None:
                    self._visit(function, scope, klass, local)
            arguments = node.child_by_field_name("arguments")
            if arguments is not None:
                self._walk(arguments, scope, klass, local)
        elif kind == "attribute":
            dotted = self._dotted(node)
            target = self._resolve(dotted, klass, local) if dotted else None
            if dotted and target:
                self._add("use", dotted, target, scope, node)
            else:
                obj = node.child_by_field_name("object")
                if obj is not None:
                    self._visit(obj, scope, klass, local)
        elif kind == "identifier":
            if not self._is_binding(node):
                name = _text(node)
                target = self._resolve(name, klass, local)
                if target is not None:
                    self._add("use", name, target, scope, node)
        else:
            self._walk(node, scope, klass, local)

    def _definition(self, node: Node, scope: str, klass: str | None, local: dict[str, str]) -> None:
        name = _text(node.child_by_field_name("name"))
        qualified = f"{scope}.{name}"
        is_class = node.type == "class_definition"
        kind = "class" if is_class else ("method" if klass == scope else "function")
        self.graph.definitions.append(
            Definition(kind, name, qualified, node.start_point.row + 1, node.end_point.row + 1)
        )
        if scope != self.module:
            local[name] = qualified  # a nested definition is callable by name in its enclosing scope
        superclasses = node.child_by_field_name("superclasses") if is_class else None
        for base in superclasses.named_children if superclasses is not None else []:
            dotted = self._dotted(base)
            if dotted is not None:  # the link inherited methods resolve through (`self.m()` defined in a base)
                self._add("base", dotted, self._resolve(dotted, klass, local), qualified, base)
            else:
                self._visit(base, scope, klass, local)  # metaclass=..., Generic[T]
        for field in ("parameters", "return_type"):
            part = node.child_by_field_name(field)
            if part is not None:
                self._walk(part, scope, klass, local)  # defaults and annotations are evaluated outside
        body = node.child_by_field_name("body")
        if body is not None:
            self._walk(body, qualified, qualified if is_class else klass, dict(local))

    # --- imports -------------------------------------------------------------------------------------

    def _import(self, node: Node, scope: str) -> None:
        if node.type == "import_statement":
            for name in node.children_by_field_name("name"):
                if name.type == "aliased_import":
                    dotted = _text(name.child_by_field_name("name"))
                    self._bind(_text(name.child_by_field_name("alias")), dotted, scope, name)
                else:
                    dotted = _text(name)  # `import a.b` binds `a`, through which `a.b.f` is reached
                    head = dotted.split(".", 1)[0]
                    self.imports[head] = head
                    self._add("import", dotted, dotted, scope, name)
            return
        base = self._from_module(node.child_by_field_name("module_name"))
        for name in node.children_by_field_name("name"):
            if name.type == "aliased_import":
                imported = _text(name.child_by_field_name("name"))
                alias = _text(name.child_by_field_name("alias"))
            else:
                imported = alias = _text(name)
            self._bind(alias, f"{base}.{imported}" if base else imported, scope, name)

    def _bind(self, alias: str, qualified: str, scope: str, node: Node) -> None:
        self.imports[alias] = qualified
        self._add("import", alias, qualified, scope, node)

    def _from_module(self, node: Node | None) -> str:
        if node is None:
            return ""
        if node.type != "relative_import":
            return _text(node)
        dots = len(_text(node.named_children[0])) if node.named_children else 1
        rest = next((_text(c) for c in node.named_children if c.type == "dotted_name"), "")
        package = self.graph.package.split(".") if self.graph.package else []
        package = package[: max(len(package) - (dots - 1), 0)]
        return ".".join([*package, rest] if rest else package)

    # --- names ---------------------------------------------------------------------------------------

    def _call(self, function: Node, call: Node, scope: str, klass: str | None, local: dict[str, str]) -> None:
        dotted = self._dotted(function)
        name = dotted or clip(_text(function))
        target = self._resolve(dotted, klass, local) if dotted else None
        self._add("call", name, target, scope, call)

    def _resolve(self, dotted: str, klass: str | None, local: dict[str, str]) -> str | None:
        head, _, rest = dotted.partition(".")
        if head in SELF_NAMES and klass is not None and rest and "." not in rest:
            return f"{klass}.{rest}"
        base = local.get(head) or self.imports.get(head) or self.top_level.get(head)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def _dotted(self, node: Node) -> str | None:
        """`a.b.c` for an attribute chain of plain names; None for anything else (calls, subscripts)."""
        if node.type == "identifier":
            return _text(node)
        if node.type == "attribute":
            obj = node.child_by_field_name("object")
            attribute = node.child_by_field_name("attribute")
            head = self._dotted(obj) if obj is not None else None
            return f"{head}.{_text(attribute)}" if head and attribute is not None else None
        return None

    @staticmethod
    def _is_binding(node: Node) -> bool:
        parent = node.parent
        if parent is None:
            return False
        if parent.type in BINDING_PARENTS:
            return True
        if parent.type in NAMED_BINDINGS and parent.child_by_field_name("name") == node:
            return True
        return parent.type == "typed_parameter" and parent.named_children[0] == node

    def _add(self, kind: str, name: str, target: str | None, scope: str, node: Node) -> None:
        self.graph.references.append(Reference(kind, name, target, scope, node.start_point.row + 1))


def _text(node: Node | None) -> str:
    return (node.text or b"").decode("utf-8", errors="replace") if node is not None else ""
