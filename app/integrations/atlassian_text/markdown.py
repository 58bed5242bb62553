"""A small Markdown reader: the blocks and inline spans that Adjutant writes into Jira and Confluence.

Only what a model or a person writes in a ticket or a page: headings, paragraphs, bullet/numbered/task lists
(nested by indentation), fenced code, block quotes, rules, pipe tables; bold, italic, strike, inline code,
links and hard breaks. Anything else stays text. The writers (`adf`, `storage`, `wiki`) render these shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- inline -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Styled:
    style: str  # "strong" | "em" | "strike"
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Link:
    href: str
    children: tuple[Inline, ...]


Inline = Text | Code | Break | Styled | Link

# --- blocks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    level: int
    inline: tuple[Inline, ...]


@dataclass(frozen=True)
class Paragraph:
    inline: tuple[Inline, ...]


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str


@dataclass(frozen=True)
class Quote:
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Rule:
    pass


@dataclass(frozen=True)
class ListItem:
    blocks: tuple[Block, ...]
    checked: bool | None = None  # a task item: done or not; None for a plain item


@dataclass(frozen=True)
class ListBlock:
    ordered: bool
    items: tuple[ListItem, ...]
    start: int = 1

    @property
    def is_tasks(self) -> bool:
        return bool(self.items) and all(item.checked is not None for item in self.items)


@dataclass(frozen=True)
class Table:
    header: tuple[tuple[Inline, ...], ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...] = field(default_factory=tuple)


Block = Heading | Paragraph | CodeBlock | Quote | Rule | ListBlock | Table

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
RULE = re.compile(r"^ {0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
QUOTE = re.compile(r"^ {0,3}>\s?")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$")
TASK = re.compile(r"^\[([ xX])\]\s+")
TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
SAFE_HREF = re.compile(r"^(https?://|mailto:|/|#)", re.IGNORECASE)
MAX_DEPTH = 20


def parse(text: str) -> list[Block]:
    return _blocks(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 0)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _starts_block(line: str) -> bool:
    return bool(
        FENCE.match(line) or HEADING.match(line) or RULE.match(line) or QUOTE.match(line) or LIST_ITEM.match(line)
    )


def _blocks(lines: list[str], depth: int) -> list[Block]:
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].expandtabs(4)
        if not line.strip():
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            marker = fence.group(1)
            body: list[str] = []
            i += 1
            while i < n and not lines[i].strip().startswith(marker[0] * len(marker)):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end of the text)
            blocks.append(CodeBlock(fence.group(2), "\n".join(body)))
            continue
        heading = HEADING.match(line)
        if heading:
            blocks.append(Heading(len(heading.group(1)), parse_inline(heading.group(2))))
            i += 1
            continue
        if RULE.match(line):
            blocks.append(Rule())
            i += 1
            continue
        if QUOTE.match(line):
            quoted: list[str] = []
            while i < n and lines[i].strip() and QUOTE.match(lines[i]):
                quoted.append(QUOTE.sub("", lines[i], count=1))
                i += 1
            inner = _blocks(quoted, depth + 1) if depth < MAX_DEPTH else [Paragraph((Text(" ".join(quoted)),))]
            blocks.append(Quote(tuple(inner)))
            continue
        if LIST_ITEM.match(line):
            block, i = _list(lines, i, depth)
            blocks.append(block)
            continue
        if "|" in line and i + 1 < n and TABLE_SEPARATOR.match(lines[i + 1]) and "-" in lines[i + 1]:
            table, i = _table(lines, i)
            blocks.append(table)
            continue
        paragraph = [line.strip()]
        i += 1
        while i < n and lines[i].strip() and not _starts_block(lines[i]):
            paragraph.append(lines[i].strip())
            i += 1
        blocks.append(Paragraph(parse_inline("\n".join(paragraph))))
    return blocks


def _list(lines: list[str], i: int, depth: int) -> tuple[ListBlock, int]:
    first = LIST_ITEM.match(lines[i])
    assert first is not None
    indent = len(first.group(1))
    ordered = first.group(2)[0].isdigit()
    start = int(first.group(2)[:-1]) if ordered else 1
    items: list[ListItem] = []
    n = len(lines)
    while i < n:
        match = LIST_ITEM.match(lines[i])
        if not match or len(match.group(1)) > indent + 1 or len(match.group(1)) < indent:
            break
        if match.group(2)[0].isdigit() != ordered:
            break
        content_indent = len(match.group(1)) + len(match.group(2)) + 1
        body = [match.group(3)]
        i += 1
        while i < n:
            line = lines[i].expandtabs(4)
            if not line.strip():
                after = next((j for j in range(i + 1, n) if lines[j].strip()), None)
                if after is not None and _indent(lines[after]) >= content_indent:
                    body.append("")
                    i += 1
                    continue
                break
            if _indent(line) >= content_indent or (_indent(line) > indent and LIST_ITEM.match(line)):
                # Item content, or a nested list indented less than the item's text (`1. a` then `  - b`).
                body.append(line[min(_indent(line), content_indent) :])
            elif not _starts_block(line) and body[-1].strip():
                body.append(line.strip())  # a lazy continuation of the item's paragraph
            else:
                break
            i += 1
        checked = None
        task = TASK.match(body[0])
        if task:
            checked = task.group(1) != " "
            body[0] = body[0][task.end() :]
        inner = _blocks(body, depth + 1) if depth < MAX_DEPTH else [Paragraph((Text(" ".join(body)),))]
        items.append(ListItem(tuple(inner), checked))
    return ListBlock(ordered, tuple(items), start), i


def _cells(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", text)]


def _table(lines: list[str], i: int) -> tuple[Table, int]:
    header = tuple(parse_inline(cell) for cell in _cells(lines[i]))
    i += 2
    rows: list[tuple[tuple[Inline, ...], ...]] = []
    while i < len(lines) and lines[i].strip() and "|" in lines[i]:
        cells = [parse_inline(cell) for cell in _cells(lines[i])]
        cells += [()] * (len(header) - len(cells))
        rows.append(tuple(cells[: len(header)]))
        i += 1
    return Table(header, tuple(rows)), i


# --- inline ---------------------------------------------------------------------------------------------------

INLINE = re.compile(
    r"\\(?P<escaped>[\\`*_{}\[\]()#+\-.!~|>])"
    r"|(?P<ticks>`+)(?P<code>.+?)(?P=ticks)"
    r"|\[(?P<label>[^\]]*)\]\((?P<href>(?:[^()\s]|\([^()\s]*\))+)(?:\s+\"[^\"]*\")?\)"
    r"|<(?P<auto>(?:https?://|mailto:)[^>\s]+)>"
    r"|\*\*(?P<strong>.+?)\*\*"
    r"|(?<!\w)__(?P<strong2>.+?)__(?!\w)"
    r"|~~(?P<strike>.+?)~~"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*?[^*\s])?)\*(?![\w*])"
    r"|(?<!\w)_(?P<em2>[^_\s](?:[^_]*?[^_\s])?)_(?!\w)"
    r"|(?P<hard> {2,}\n|\\\n)"
    r"|(?P<soft>\n)",
    re.DOTALL,
)


def parse_inline(text: str, depth: int = 0) -> tuple[Inline, ...]:
    spans: list[Inline] = []
    buffer: list[str] = []
    position = 0

    def flush() -> None:
        if buffer:
            spans.append(Text("".join(buffer)))
            buffer.clear()

    for match in INLINE.finditer(text):
        buffer.append(text[position : match.start()])
        position = match.end()
        kind = match.lastgroup
        if kind == "escaped":
            buffer.append(match.group("escaped"))
            continue
        if kind == "soft":
            buffer.append(" ")
            continue
        flush()
        if kind == "hard":
            spans.append(Break())
        elif match.group("ticks"):
            spans.append(Code(match.group("code").strip() or match.group("code")))
        elif match.group("href") is not None:
            href = match.group("href")
            label = _nested(match.group("label") or href, depth)
            spans.extend([Link(href, label)] if SAFE_HREF.match(href) else label)
        elif kind == "auto":
            spans.append(Link(match.group("auto"), (Text(match.group("auto")),)))
        elif kind in ("strong", "strong2"):
            spans.append(Styled("strong", _nested(match.group(kind), depth)))
        elif kind == "strike":
            spans.append(Styled("strike", _nested(match.group(kind), depth)))
        else:  # em, em2
            spans.append(Styled("em", _nested(match.group(kind), depth)))
    buffer.append(text[position:])
    flush()
    return tuple(span for span in spans if not (isinstance(span, Text) and not span.text))


def _nested(text: str, depth: int) -> tuple[Inline, ...]:
    return parse_inline(text, depth + 1) if depth < MAX_DEPTH else (Text(text),)


def plain(spans: tuple[Inline, ...]) -> str:
    """The text of inline spans without any markup."""
    out: list[str] = []
    for span in spans:
        if isinstance(span, Text | Code):
            out.append(span.text)
        elif isinstance(span, Break):
            out.append("\n")
        else:
            out.append(plain(span.children))
    return "".join(out)
