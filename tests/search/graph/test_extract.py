"""What each grammar contributes to the graph, read from one file: qualified definitions and the calls
and imports resolved as far as the file tells (the repository-wide check happens at query time)."""

from __future__ import annotations

from app.search.graph.extract import extract, module_name


def calls(path: str, text: str, language: str) -> set[tuple[str, str, str | None]]:
    graph = extract(path, text, language)
    assert graph is not None
    return {(r.source, r.name, r.target) for r in graph.references if r.kind == "call"}


def definitions(path: str, text: str, language: str) -> list[tuple[str, str]]:
    graph = extract(path, text, language)
    assert graph is not None
    return [(d.kind, d.qualified) for d in graph.definitions]


def test_module_names_follow_paths_packages_and_go_directories():
    assert module_name("src/shop/billing.py", "python") == "src.shop.billing"
    assert module_name("src/shop/__init__.py", "python") == "src.shop"
    assert module_name("pkg/lib.py", "python") == "pkg.lib"  # only rust's lib.rs names its directory
    assert module_name("web/src/index.ts", "typescript") == "web.src"
    assert module_name("server/users.go", "go") == "server"
    assert module_name("setup.py", "python") == "setup"


def test_python_relative_imports_climb_from_the_files_package():
    graph = extract("shop/sub/mod.py", "from . import a\nfrom ..b import c as d\nfrom .e.f import g\nd()\n", "python")
    assert graph is not None
    imports = {(r.name, r.target) for r in graph.references if r.kind == "import"}
    assert imports == {("a", "shop.sub.a"), ("d", "shop.b.c"), ("g", "shop.sub.e.f.g")}
    assert ("shop.sub.mod", "d", "shop.b.c") in {(r.source, r.name, r.target) for r in graph.references}


def test_go_methods_belong_to_their_receiver_type_and_bare_calls_to_the_package():
    text = (
        'package server\nimport u "github.com/acme/util"\n'
        "type Store struct{}\nfunc (s *Store) Get() { s.Put(); u.Do(); helper(); x.y() }\n"
    )
    assert definitions("server/users.go", text, "go") == [
        ("module", "server"),
        ("type", "server.Store"),
        ("method", "server.Store.Get"),
    ]
    assert calls("server/users.go", text, "go") == {
        ("server.Store.Get", "s.Put", "server.Store.Put"),
        ("server.Store.Get", "u.Do", "github.com.acme.util.Do"),
        ("server.Store.Get", "helper", "server.helper"),
        ("server.Store.Get", "x.y", None),
    }


def test_java_uses_its_package_and_imports():
    text = "package a.b;\nimport c.d.E;\nclass K { void m() { n(); this.n(); E.f(); new E(); x.y(); } void n() {} }\n"
    assert [q for _, q in definitions("src/K.java", text, "java")] == ["a.b", "a.b.K", "a.b.K.m", "a.b.K.n"]
    assert calls("src/K.java", text, "java") == {
        ("a.b.K.m", "n", "a.b.K.n"),
        ("a.b.K.m", "this.n", "a.b.K.n"),
        ("a.b.K.m", "E.f", "c.d.E.f"),
        ("a.b.K.m", "E", "c.d.E"),
        ("a.b.K.m", "x.y", None),
    }


def test_rust_use_paths_and_self_calls_in_an_impl():
    text = "use crate::a::b;\nimpl S { fn m(&self) { self.n(); b::f(); g(); h(); } fn n(&self) {} }\nfn g() {}\n"
    assert calls("src/lib.rs", text, "rust") == {
        ("src.S.m", "self.n", "src.S.n"),
        ("src.S.m", "b.f", "a.b.f"),
        ("src.S.m", "g", "src.g"),
        ("src.S.m", "h", None),
    }


def test_files_without_a_grammar_have_no_graph():
    assert extract("README.md", "# title\n", "markdown") is None
    assert extract("empty.py", "\n\n", "python") is None
