"""Text of imported knowledge: HTML (Stack Overflow bodies, fetched pages) as Markdown with code kept as fenced
blocks and their language, and Markdown split into prose and code blocks."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "nav", "footer", "head", "form", "iframe"})
BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "ul", "ol", "table", "tr", "blockquote", "br", "hr", "dl", "dd"}
    | {"dt", "header", "aside", "figure", "figcaption"}
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Stack Overflow marks a block's language as `lang-python` on <pre> (older posts) or `language-python` on <code>.
LANGUAGE_CLASS = re.compile(r"(?:^|\s)(?:lang|language)-([A-Za-z0-9_+#.-]{1,30})")
FENCE = re.compile(r"^(```+|~~~+)[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "ts": "typescript",
    "sh": "bash",
    "shell": "bash",
    "c#": "csharp",
    "cs": "csharp",
    "c++": "cpp",
    "golang": "go",
    "rb": "ruby",
    "yml": "yaml",
    "none": "",
    "default": "",
    "lang-none": "",
}
KNOWN_LANGUAGES = frozenset(
    {"python", "javascript", "typescript", "java", "go", "rust", "ruby", "php", "csharp", "cpp", "c", "kotlin"}
    | {"swift", "scala", "bash", "sql", "html", "css", "json", "yaml", "toml", "xml", "r", "perl", "lua", "dart"}
)


def normal_language(name: str | None) -> str | None:
    if not name:
        return None
    value = name.strip().lower()
    value = LANGUAGE_ALIASES.get(value, value)
    return value[:32] or None


def language_from_tags(tags: list[str]) -> str | None:
    """The first tag that names a programming language (a question tagged python;asyncio -> python)."""
    for tag in tags:
        language = normal_language(tag)
        if language in KNOWN_LANGUAGES:
            return language
    return None


class _Markdown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.pre_language: str | None = None
        self.code_text: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.title = ""
        self.in_title = False
        self.list_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "title":
            self.in_title = True
        if tag in SKIPPED:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "pre":
            self.pre += 1
            self.code_text = []
            match = LANGUAGE_CLASS.search(attributes.get("class", ""))
            self.pre_language = normal_language(match.group(1)) if match else None
        elif tag == "code" and self.pre:
            match = LANGUAGE_CLASS.search(attributes.get("class", ""))
            if match:
                self.pre_language = normal_language(match.group(1))
        elif tag == "code":
            self.out.append("`")
        elif tag in HEADINGS:
            self.out.append("\n\n" + "#" * HEADINGS[tag] + " ")
        elif tag == "li":
            self.out.append("\n" + "  " * max(self.list_depth - 1, 0) + "- ")
        elif tag in ("ul", "ol"):
            self.list_depth += 1
            self.out.append("\n")
        elif tag == "a" and not self.pre:
            self.href = attributes.get("href") or None
            self.link_text = []
        elif tag in BLOCKS:
            self.out.append("\n\n" if tag not in ("br", "tr") else "\n")
        elif tag in ("td", "th"):
            self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in SKIPPED:
            self.skip = max(self.skip - 1, 0)
            return
        if self.skip:
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
            code = "".join(self.code_text).strip("\n")
            if code.strip():
                self.out.append(f"\n\n```{self.pre_language or ''}\n{code}\n```\n\n")
            self.code_text = []
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag in HEADINGS:
            self.out.append("\n\n")
        elif tag in ("ul", "ol"):
            self.list_depth = max(self.list_depth - 1, 0)
            self.out.append("\n")
        elif tag == "a" and self.href is not None and not self.pre:
            text = "".join(self.link_text).strip()
            if self.href.startswith(("http://", "https://")) and text and text != self.href:
                self.out.append(f" ({self.href})")
            self.href = None
        elif tag in BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        if self.skip:
            return
        if self.pre:
            self.code_text.append(data)
            return
        if self.href is not None:
            self.link_text.append(data)
        self.out.append(re.sub(r"\s+", " ", data))


def html_to_markdown(markup: str) -> tuple[str, str]:
    """(title, Markdown text) of an HTML page or fragment; scripts, styles, navigation and forms dropped."""
    parser = _Markdown()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return " ".join(html.unescape(parser.title).split()), text.strip()


@dataclass(frozen=True)
class Block:
    kind: str  # "text" or "code"
    text: str
    language: str | None = None


def split_code(markdown: str) -> list[Block]:
    """Prose and fenced code blocks, in order."""
    blocks: list[Block] = []
    position = 0
    for match in FENCE.finditer(markdown):
        before = markdown[position : match.start()].strip()
        if before:
            blocks.append(Block("text", before))
        code = match.group(3).rstrip("\n")
        if code.strip():
            blocks.append(Block("code", code, normal_language(match.group(2))))
        position = match.end()
    rest = markdown[position:].strip()
    if rest:
        blocks.append(Block("text", rest))
    return blocks
