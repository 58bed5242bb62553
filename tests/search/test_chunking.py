"""AST-aware chunking across the supported grammars, line windows without one, and chunk invariants."""

from __future__ import annotations

import pytest

from app.search.chunker import chunk_file, line_windows
from app.search.languages import GRAMMARS, language_of
from app.search.words import search_words

# One small file per grammar; with a tiny size cap every definition becomes its own chunk, so the expected
# hierarchy labels show the grammar's definitions are recognised and named.
SAMPLES = {
    "a.py": (
        "import os\n\nclass Parser:\n    def parse(self, text):\n        return text.split()\n\n"
        "    @staticmethod\n    def helper(x):\n        return x * 2\n\ndef top_level(a, b):\n    return a + b\n",
        {"class Parser > method parse", "class Parser > method helper", "function top_level"},
    ),
    "a.js": (
        "export class Cart {\n  add(item) { this.items.push(item); }\n}\n"
        "export function total(items) { return items.reduce((a, b) => a + b, 0); }\n"
        "const fetchUser = async (id) => { return await api.get(id); };\nconst limit = 5;\n",
        {"class Cart", "function total", "function fetchUser"},
    ),
    "a.ts": (
        "export interface User { id: number; name: string }\nexport enum Color { Red, Green }\n"
        "export abstract class Repo<T> { abstract find(id: string): T; }\n"
        "export function load(path: string): string { return path; }\n",
        {"interface User", "enum Color", "class Repo", "function load"},
    ),
    "a.tsx": (
        "export function Button(props: { label: string }) { return <button>{props.label}</button>; }\n",
        {"function Button"},
    ),
    "A.java": (
        "package x;\npublic class Account {\n  private int balance;\n  public Account(int b) { balance = b; }\n"
        "  public void deposit(int amount) { balance += amount; }\n}\n",
        {"class Account > method Account", "class Account > method deposit"},
    ),
    "a.go": (
        "package main\ntype Server struct { port int }\nfunc (s *Server) Start() error { return nil }\n"
        "func NewServer(port int) *Server { return &Server{port: port} }\n",
        {"type Server", "method Start", "function NewServer"},
    ),
    "a.rs": (
        "pub struct Point { x: i32 }\nimpl Point { pub fn norm(&self) -> i32 { self.x } }\n"
        "pub trait Shape { fn area(&self) -> f64; }\nfn main() { }\n",
        {"struct Point", "impl Point", "trait Shape", "function main"},
    ),
    "a.rb": (
        "module Billing\n  class Invoice\n    def total\n      42\n    end\n    def self.build\n      new\n"
        "    end\n  end\nend\n",
        {"module Billing > class Invoice > method total", "module Billing > class Invoice > method build"},
    ),
    "a.c": (
        "struct node { int v; };\nstatic int *find_node(struct node *n, int v) { return 0; }\n"
        "int main(void) { return 0; }\n",
        {"struct node", "function find_node", "function main"},
    ),
    "a.cpp": (
        "namespace geo {\nclass Circle { public: double area() const { return 3.14; } };\n"
        "double Circle::perimeter() const { return 6.28; }\n}\n",
        {"namespace geo > class Circle", "namespace geo > function Circle::perimeter"},
    ),
    "a.kt": (
        'class Greeter(val name: String) {\n    fun greet(): String = "Hello, $name"\n}\n'
        'object Registry { fun lookup(key: String): Int = 0 }\nfun main() { println(Greeter("x").greet()) }\n',
        {"class Greeter", "object Registry", "function main"},
    ),
}


def labels(chunks) -> set[str]:
    return {" > ".join(f"{h['type']} {h['value']}" for h in c.hierarchy) for c in chunks if c.hierarchy}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_grammar_labels_its_definitions(name):
    text, expected = SAMPLES[name]
    language = language_of(name)
    assert language in GRAMMARS
    chunks = chunk_file(name, text, language, max_chars=60, min_chars=1)
    assert expected <= labels(chunks), labels(chunks)
    lines = text.splitlines()
    for chunk in chunks:
        assert chunk.path == name and chunk.language == language
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        # The text is exactly the lines the range names: clients open files at these lines.
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])


def test_every_listed_grammar_is_covered_by_a_sample():
    assert {language_of(name) for name in SAMPLES} == set(GRAMMARS)


def python_module(functions: int, body_lines: int) -> str:
    parts = []
    for i in range(functions):
        body = "\n".join(f"    value_{j} = compute_{i}({j})" for j in range(body_lines))
        parts.append(f"def function_{i}(argument):\n{body}\n    return value_0\n")
    return "\n\n".join(parts)


def test_large_definitions_are_split_small_neighbours_merged_and_the_cap_holds():
    small = python_module(functions=12, body_lines=1)  # 12 tiny functions: merged, not 12 chunks
    merged = chunk_file("small.py", small, "python", max_chars=600, min_chars=250)
    assert 1 < len(merged) < 12
    assert all(len(c.text) <= 600 for c in merged)
    assert sorted(n for c in merged for n in c.names) == sorted(f"function_{i}" for i in range(12))

    big = "class Engine:\n" + "\n".join(
        "    " + line for line in python_module(functions=6, body_lines=30).splitlines()
    )
    chunks = chunk_file("big.py", big, "python", max_chars=800, min_chars=100)
    assert all(len(c.text) <= 800 for c in chunks), [len(c.text) for c in chunks]
    assert {"class Engine > method function_3"} <= labels(chunks)
    # Nothing is lost: every line of the file that has content is inside some chunk.
    covered = {line for c in chunks for line in range(c.start_line, c.end_line + 1)}
    assert {i + 1 for i, line in enumerate(big.splitlines()) if line.strip()} <= covered


def test_a_huge_flat_statement_is_cut_by_lines_under_the_cap():
    text = "DATA = [\n" + "".join(f"    {i},  # entry number {i}\n" for i in range(2000)) + "]\n"
    chunks = chunk_file("data.py", text, "python", max_chars=1000)
    assert len(chunks) > 10 and all(len(c.text) <= 1000 for c in chunks)
    assert chunks[0].start_line == 1 and chunks[-1].end_line == len(text.splitlines())


def test_files_without_a_grammar_get_line_windows():
    text = "\n".join(f"line {i} of the readme" for i in range(150))
    chunks = chunk_file("README.md", text, "markdown")
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 60), (61, 120), (121, 150)]
    assert chunks[0].hierarchy == [] and chunks[0].language == "markdown"
    assert line_windows("x.txt", "", "text") == [] and chunk_file("x.md", "  \n\n", "markdown") == []


def test_search_words_split_identifiers_so_full_text_matches_parts():
    words = search_words("parseConfigFile(HTTPServer, max_retry_count)").split()
    assert {"parseconfigfile", "parse", "config", "file", "httpserver", "http", "server", "retry"} <= set(words)


def test_content_hash_changes_with_text_and_path():
    a = chunk_file("a.py", "def f():\n    return 1\n", "python")[0]
    b = chunk_file("a.py", "def f():\n    return 2\n", "python")[0]
    c = chunk_file("b.py", "def f():\n    return 1\n", "python")[0]
    assert len({a.content_hash, b.content_hash, c.content_hash}) == 3
    assert a.content_hash == chunk_file("a.py", "def f():\n    return 1\n", "python")[0].content_hash
