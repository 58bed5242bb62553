"""Full-text search words: a text plus the parts of its compound identifiers (parseConfig -> parse config),
the same for what is indexed and for what is asked. Its own module so a query never loads the chunker's
tree-sitter grammars."""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(word: str) -> list[str]:
    parts = [p.lower() for piece in word.split("_") for p in CAMEL.findall(piece)]
    return parts if len(parts) > 1 else []


def search_words(text: str) -> str:
    """Text plus the parts of its compound identifiers, lower-cased."""
    out: list[str] = []
    for word in IDENTIFIER.findall(text):
        out.append(word.lower())
        out.extend(split_identifier(word))
    return " ".join(out)
