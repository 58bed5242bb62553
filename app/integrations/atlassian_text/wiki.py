"""Jira wiki markup (Jira Data Center REST v2 descriptions and comments) to and from Markdown.

Reading: headings, bullet/numbered lists (nested `**`, `#*`), `{code}` / `{noformat}` blocks, `{quote}` and
`bq.`, panels and admonitions as labelled quotes, tables, links, mentions, images as placeholders, and the
inline styles. Colour, underline, super/subscript and citation markers keep their text only.
"""

from __future__ import annotations

import re

from app.integrations.atlassian_text import markdown as md

CODE_BLOCK = re.compile(r"\{(code|noformat)(?::([^}]*))?\}(.*?)\{\1\}", re.DOTALL | re.IGNORECASE)
PANEL_OPEN = re.compile(r"^\s*\{(quote|panel|info|note|warning|tip)(?::([^}]*))?\}\s*(.*)$", re.IGNORECASE)
PANEL_CLOSE = re.compile(r"^(.*?)\{(quote|panel|info|note|warning|tip)\}\s*$", re.IGNORECASE)
HEADING = re.compile(r"^\s*h([1-6])\.\s+(.*)$")
LIST = re.compile(r"^\s*([*#-]+)\s+(.*)$")
RULE = re.compile(r"^\s*-{4,}\s*$")
LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip"}
PLACEHOLDER = "\x00{}\x00"
RESTORE = re.compile("\x00(\\d+)\x00")

INLINE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), "\x01\\1\x01"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), "*\\1*"),
    (re.compile(r"(?<![\w-])-(?=[^\s-])(.+?)(?<=[^\s-])-(?![\w-])"), "\x02\\1\x02"),
    (re.compile(r"(?<![\w+])\+(?=\S)(.+?)(?<=\S)\+(?![\w+])"), "\\1"),
    (re.compile(r"(?<![\w^])\^(?=\S)(.+?)(?<=\S)\^(?![\w^])"), "\\1"),
    (re.compile(r"(?<![\w~])~(?=\S)(.+?)(?<=\S)~(?![\w~])"), "\\1"),
    (re.compile(r"\?\?(.+?)\?\?"), "\\1"),
    (re.compile(r"\{color(?::[^}]*)?\}(.*?)\{color\}", re.DOTALL), "\\1"),
]


def wiki_to_markdown(text: str | None) -> str:
    if not text:
        return ""
    protected: list[str] = []

    def protect(value: str) -> str:
        protected.append(value)
        return PLACEHOLDER.format(len(protected) - 1)

    def code_block(match: re.Match[str]) -> str:
        params = match.group(2) or ""
        language = "" if match.group(1).lower() == "noformat" else _language(params)
        body = match.group(3).strip("\n")
        return "\n" + protect(f"```{language}\n{body}\n```") + "\n"

    text = CODE_BLOCK.sub(code_block, text.replace("\r\n", "\n").replace("\r", "\n"))
    # Each output line with the block it belongs to: a blank line goes wherever the block changes, as
    # Markdown needs (wiki markup separates blocks by line starts alone).
    out: list[tuple[str, str]] = []
    quote: str | None = None  # inside {quote}/{panel}/...: the block id of that quote
    quotes = 0
    in_table = False
    numbers: list[int] = []  # the running number of each level of the current list
    for raw_line in text.split("\n"):
        line = raw_line.rstrip()
        opening = PANEL_OPEN.match(line) if quote is None else None
        if opening:
            quotes += 1
            quote = f"quote{quotes}"
            label = _panel_label(opening.group(1).lower(), opening.group(2) or "")
            line = opening.group(3)
            if label:
                out.append((quote, f"> **{label}:**"))
        if quote is not None:
            closing = PANEL_CLOSE.match(line)
            content = closing.group(1) if closing else line
            if content.strip():
                out.append((quote, "> " + _line(content, protect)))
            if closing:
                quote = None
            continue
        stripped = line.strip()
        if stripped.startswith("||") or (len(stripped) > 1 and stripped.startswith("|") and stripped.endswith("|")):
            row, header = _table_row(line, protect)
            width = row.count(" | ") + 1
            if not in_table and not header:
                out.append(("table", "| " + " | ".join([""] * width) + " |"))
                out.append(("table", "|" + "|".join(["---"] * width) + "|"))
            out.append(("table", row))
            if header:
                out.append(("table", "|" + "|".join(["---"] * width) + "|"))
            in_table = True
            continue
        in_table = False
        if not stripped:
            out.append(("blank", ""))
            continue
        listed = LIST.match(line) if not RULE.match(line) else None
        if listed and not (set(listed.group(1)) == {"-"} and len(listed.group(1)) > 1):
            markers = listed.group(1)
            del numbers[len(markers) :]
            numbers += [0] * (len(markers) - len(numbers))
            numbers[-1] = numbers[-1] + 1 if markers[-1] == "#" else 0
            out.append(("list", _item(markers, numbers[-1], listed.group(2), protect)))
            continue
        numbers = []
        converted = _line(line, protect)
        kind = "text"
        if converted.startswith(("#", ">", "---")) or RESTORE.fullmatch(converted):
            kind = "single"
        out.append((kind, converted))
    lines: list[str] = []
    previous = "blank"
    for kind, line in out:
        if kind == "blank" or previous == "blank":
            pass
        elif kind != previous or kind == "single":
            lines.append("")
        lines.append(line)
        previous = kind
    result = "\n".join(lines)
    while RESTORE.search(result):
        result = RESTORE.sub(lambda m: protected[int(m.group(1))], result)
    return re.sub(r"\n{3,}", "\n\n", result).strip()


def _language(params: str) -> str:
    for part in params.split("|"):
        key, _, value = part.partition("=")
        if not value and key and not key.startswith(("title", "border", "bg", "theme", "linenumbers")):
            return key.strip()
        if key.strip().lower() == "language":
            return value.strip()
    return ""


def _panel_label(kind: str, params: str) -> str:
    for part in params.split("|"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "title" and value.strip():
            return value.strip()
    return LABELS.get(kind, "")


def _line(line: str, protect) -> str:
    if RULE.match(line):
        return "---"
    heading = HEADING.match(line)
    if heading:
        return "#" * int(heading.group(1)) + " " + _inline(heading.group(2), protect)
    if line.lstrip().startswith("bq. "):
        return "> " + _inline(line.lstrip()[4:], protect)
    return _inline(line, protect)


def _item(markers: str, number: int, text: str, protect) -> str:
    bullet = f"{number}. " if markers[-1] == "#" else "- "
    # Nested items sit under their parent's text: three columns under "1. ", two under "- ".
    pad = "".join("   " if marker == "#" else "  " for marker in markers[:-1])
    return pad + bullet + _inline(text, protect)


def _table_row(line: str, protect) -> tuple[str, bool]:
    stripped = line.strip()
    header = stripped.startswith("||")
    converted = _inline(stripped, protect)  # links first: their `|` is not a cell border
    cells = [c.strip() for c in re.split(r"\|\|?", converted.strip())]
    if cells and cells[0] == "":
        cells = cells[1:]
    if cells and cells[-1] == "":
        cells = cells[:-1]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |", header


LINK = re.compile(r"\[([^\[\]]*?)\]")
MONO = re.compile(r"\{\{(.+?)\}\}")
IMAGE = re.compile(r"!([^!\s|][^!|]*?)(?:\|[^!]*)?!")
SAFE_HREF = re.compile(r"^(https?://|mailto:|/|#)", re.IGNORECASE)


def _inline(text: str, protect) -> str:
    text = MONO.sub(lambda m: protect(f"`{m.group(1)}`"), text)
    text = IMAGE.sub(lambda m: protect(f"[image: {m.group(1).strip()}]"), text)
    text = LINK.sub(lambda m: protect(_link(m.group(1))), text)
    text = text.replace("\\\\", "\n")
    for pattern, replacement in INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text.replace("\x01", "**").replace("\x02", "~~").strip()


def _link(body: str) -> str:
    if body.startswith("~"):
        return "@" + body[1:].removeprefix("accountid:")
    label, sep, target = body.partition("|")
    if not sep:
        target, label = label, ""
    target = target.strip()
    if target.startswith("~"):
        return "@" + target[1:].removeprefix("accountid:")
    if not SAFE_HREF.match(target):
        return label or target  # an attachment (^file), a Jira key or a Confluence page name
    return f"[{label.strip()}]({target})" if label.strip() else f"<{target}>"


# --- Markdown -> wiki -----------------------------------------------------------------------------------------


def markdown_to_wiki(text: str) -> str:
    """Wiki markup Jira Data Center renders as the Markdown meant."""
    return "\n\n".join(_wiki_block(block, 1) for block in md.parse(text)).strip()


def _wiki_block(block: md.Block, depth: int, markers: str = "") -> str:
    if isinstance(block, md.Heading):
        return f"h{block.level}. {_wiki_inline(block.inline)}"
    if isinstance(block, md.Paragraph):
        return _wiki_inline(block.inline)
    if isinstance(block, md.CodeBlock):
        opener = f"{{code:{block.language}}}" if block.language else "{code}"
        return f"{opener}\n{block.text}\n{{code}}"
    if isinstance(block, md.Quote):
        return "{quote}\n" + "\n\n".join(_wiki_block(b, depth) for b in block.blocks) + "\n{quote}"
    if isinstance(block, md.Rule):
        return "----"
    if isinstance(block, md.Table):
        lines = ["||" + "||".join(_wiki_inline(c) for c in block.header) + "||"]
        lines += ["|" + "|".join(_wiki_inline(c) or " " for c in row) + "|" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, md.ListBlock):
        prefix = markers + ("#" if block.ordered else "*")
        lines: list[str] = []
        for item in block.items:
            box = "" if item.checked is None else ("(/) " if item.checked else "(x) ")
            first = True
            for inner in item.blocks:
                if isinstance(inner, md.ListBlock):
                    lines.append(_wiki_block(inner, depth + 1, prefix))
                elif first:
                    lines.append(f"{prefix} {box}{_wiki_block(inner, depth)}")
                    first = False
                else:
                    lines.append(_wiki_block(inner, depth))
            if first:
                lines.append(f"{prefix} {box}".rstrip())
        return "\n".join(lines)
    return ""


def _wiki_inline(spans: tuple[md.Inline, ...]) -> str:
    out: list[str] = []
    for span in spans:
        if isinstance(span, md.Text):
            out.append(span.text)
        elif isinstance(span, md.Code):
            out.append("{{" + span.text + "}}")
        elif isinstance(span, md.Break):
            out.append("\\\\\n")
        elif isinstance(span, md.Styled):
            mark = {"strong": "*", "em": "_", "strike": "-"}[span.style]
            out.append(f"{mark}{_wiki_inline(span.children)}{mark}")
        elif isinstance(span, md.Link):
            label = _wiki_inline(span.children)
            out.append(f"[{label}|{span.href}]" if label and label != span.href else f"[{span.href}]")
    return "".join(out)
