"""Atlassian Document Format (Jira Cloud REST v3 descriptions, comments and rich-text fields) to and from
Markdown.

Reading keeps what carries meaning for a reader or a model: headings, lists (task lists as `- [ ]`), code
blocks with their language, links, tables, panels as labelled quotes, mentions, dates and statuses as text;
media become a placeholder. Unknown nodes give their text, so a new node type degrades rather than vanishes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from app.integrations.atlassian_text import markdown as md

MAX_DEPTH = 40
PANEL_LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "success": "Success", "error": "Error"}


def adf_to_markdown(document: Any) -> str:
    if not isinstance(document, dict):
        return "" if document is None else str(document)
    text = _join_blocks(_blocks(document.get("content") or [], 0))
    return text.strip()


def _join_blocks(blocks: list[str], tight: bool = False) -> str:
    return ("\n" if tight else "\n\n").join(block for block in blocks if block.strip())


def _indent(text: str, prefix: str) -> str:
    pad = " " * len(prefix)
    lines = text.split("\n")
    return "\n".join([prefix + lines[0]] + [(pad + line) if line else "" for line in lines[1:]])


def _blocks(nodes: list[Any], depth: int) -> list[str]:
    out: list[str] = []
    inline: list[Any] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if node.get("type") in INLINE_TYPES:
            inline.append(node)  # inline nodes straight in a block container (task items, some cells)
            continue
        if inline:
            out.append(_inline(inline, depth))
            inline = []
        out.append(_block(node, depth))
    if inline:
        out.append(_inline(inline, depth))
    return out


def _block(node: dict[str, Any], depth: int) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    content = node.get("content") or []
    if depth > MAX_DEPTH:
        return _text_of(node)
    if kind == "paragraph":
        return _inline(content, depth)
    if kind == "heading":
        level = min(6, max(1, int(attrs.get("level") or 1)))
        return "#" * level + " " + _inline(content, depth)
    if kind in ("bulletList", "orderedList"):
        start = int(attrs.get("order") or 1)
        items = []
        for index, item in enumerate(c for c in content if isinstance(c, dict)):
            prefix = f"{start + index}. " if kind == "orderedList" else "- "
            items.append(_indent(_join_blocks(_blocks(item.get("content") or [], depth + 1), tight=True), prefix))
        return "\n".join(items)
    if kind in ("taskList", "decisionList"):
        items = []
        for item in (c for c in content if isinstance(c, dict)):
            if item.get("type") in ("taskList", "decisionList"):
                items.append(_indent(_block(item, depth + 1), "  "))
                continue
            state = (item.get("attrs") or {}).get("state")
            mark = "- [x] " if state in ("DONE", "DECIDED") else "- [ ] "
            if item.get("type") == "decisionItem":
                mark = "- Decision: "
            items.append(_indent(_join_blocks(_blocks(item.get("content") or [], depth + 1), tight=True), mark))
        return "\n".join(items)
    if kind == "codeBlock":
        language = attrs.get("language") or ""
        code = "".join(c.get("text", "") for c in content if isinstance(c, dict))
        fence = "````" if "```" in code else "```"
        return f"{fence}{language}\n{code}\n{fence}"
    if kind == "blockquote":
        return _quote(_join_blocks(_blocks(content, depth + 1)))
    if kind == "panel":
        label = PANEL_LABELS.get(str(attrs.get("panelType") or "info"), "Note")
        return _quote(f"**{label}:** " + _join_blocks(_blocks(content, depth + 1)))
    if kind == "rule":
        return "---"
    if kind == "table":
        return _table(content, depth)
    if kind in ("expand", "nestedExpand"):
        title = attrs.get("title")
        body = _join_blocks(_blocks(content, depth + 1))
        return f"**{title}**\n\n{body}" if title else body
    if kind in ("mediaSingle", "mediaGroup"):
        return " ".join(_media(c) for c in content if isinstance(c, dict))
    if kind == "media":
        return _media(node)
    if kind in ("blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind in ("extension", "bodiedExtension"):
        if content:
            return _join_blocks(_blocks(content, depth + 1))
        return f"[{attrs.get('extensionKey') or 'macro'}]"
    return _join_blocks(_blocks(content, depth + 1)) if content else _text_of(node)


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line else ">" for line in text.split("\n"))


def _media(node: dict[str, Any]) -> str:
    attrs = node.get("attrs") or {}
    name = attrs.get("alt") or attrs.get("id") or "file"
    return f"[attachment: {name}]"


def _table(rows: list[Any], depth: int) -> str:
    grid: list[list[str]] = []
    header_row = False
    for index, row in enumerate(r for r in rows if isinstance(r, dict)):
        cells = [c for c in row.get("content") or [] if isinstance(c, dict)]
        if index == 0:
            header_row = bool(cells) and all(c.get("type") == "tableHeader" for c in cells)
        grid.append(
            [
                _join_blocks(_blocks(c.get("content") or [], depth + 1)).replace("\n", " ").replace("|", "\\|")
                for c in cells
            ]
        )
    if not grid:
        return ""
    width = max(len(r) for r in grid)
    grid = [r + [""] * (width - len(r)) for r in grid]
    header = grid[0] if header_row else [""] * width
    body = grid[1:] if header_row else grid
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * width) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


INLINE_TYPES = frozenset(
    {"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "placeholder", "mediaInline"}
    | {"inlineExtension"}
)


def _inline(nodes: list[Any], depth: int) -> str:
    out: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            out.append(_marked(str(node.get("text") or ""), node.get("marks") or []))
        elif kind == "hardBreak":
            out.append("\n")
        elif kind == "mention":
            name = str(attrs.get("text") or attrs.get("id") or "someone")
            out.append(name if name.startswith("@") else "@" + name)
        elif kind == "emoji":
            out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind == "inlineCard":
            out.append(str(attrs.get("url") or ""))
        elif kind == "status":
            out.append(f"[{attrs.get('text') or ''}]")
        elif kind == "date":
            out.append(_date(attrs.get("timestamp")))
        elif kind == "mediaInline":
            out.append(_media(node))
        elif kind == "inlineExtension":
            out.append(f"[{attrs.get('extensionKey') or 'macro'}]")
        elif kind == "placeholder":
            continue
        elif depth <= MAX_DEPTH:
            out.append(_inline(node.get("content") or [], depth + 1) or _text_of(node))
    return "".join(out).strip()


def _marked(text: str, marks: list[Any]) -> str:
    if not text:
        return ""
    kinds = {m.get("type"): m for m in marks if isinstance(m, dict)}
    if "code" in kinds:
        ticks = "``" if "`" in text else "`"
        text = f"{ticks}{text}{ticks}"
    core = text.strip()
    if not core:
        return text
    # Emphasis hugs the words: markers outside the surrounding spaces, as Markdown requires.
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    if "strike" in kinds:
        core = f"~~{core}~~"
    if "em" in kinds:
        core = f"*{core}*"
    if "strong" in kinds:
        core = f"**{core}**"
    link = kinds.get("link")
    if link is not None:
        href = (link.get("attrs") or {}).get("href")
        if href:
            core = f"[{core}]({href})"
    return lead + core + trail


def _date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp or "")


def _text_of(node: Any) -> str:
    """Every text under `node`, in order; iterative, so no nesting depth can exhaust the stack."""
    out: list[str] = []
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        if current.get("type") == "text":
            out.append(str(current.get("text") or ""))
            continue
        own = (current.get("attrs") or {}).get("text")
        if isinstance(own, str):
            out.append(own)
        stack.extend(reversed(current.get("content") or []))
    return " ".join(part for part in out if part)


# --- Markdown -> ADF ------------------------------------------------------------------------------------------


def markdown_to_adf(text: str) -> dict[str, Any]:
    """An ADF document Jira Cloud accepts as a description or a comment body."""
    content = [node for block in md.parse(text) for node in _adf_block(block)]
    return {"type": "doc", "version": 1, "content": content}


def _adf_block(block: md.Block) -> list[dict[str, Any]]:
    if isinstance(block, md.Heading):
        return [{"type": "heading", "attrs": {"level": block.level}, "content": _adf_inline(block.inline)}]
    if isinstance(block, md.Paragraph):
        inline = _adf_inline(block.inline)
        return [{"type": "paragraph", "content": inline}] if inline else []
    if isinstance(block, md.CodeBlock):
        node: dict[str, Any] = {
            "type": "codeBlock",
            "content": [{"type": "text", "text": block.text}] if block.text else [],
        }
        if block.language:
            node["attrs"] = {"language": block.language}
        return [node]
    if isinstance(block, md.Quote):
        return [{"type": "blockquote", "content": [n for b in block.blocks for n in _adf_block(b)]}]
    if isinstance(block, md.Rule):
        return [{"type": "rule"}]
    if isinstance(block, md.Table):
        rows = [_adf_row("tableHeader", block.header)] + [_adf_row("tableCell", row) for row in block.rows]
        return [{"type": "table", "content": rows}]
    if isinstance(block, md.ListBlock):
        if block.is_tasks:
            return [_adf_tasks(block)]
        items = [
            {"type": "listItem", "content": [n for b in item.blocks for n in _adf_block(b)] or [_empty_paragraph()]}
            for item in block.items
        ]
        if block.ordered:
            return [{"type": "orderedList", "attrs": {"order": block.start}, "content": items}]
        return [{"type": "bulletList", "content": items}]
    return []


def _adf_tasks(block: md.ListBlock) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for item in block.items:
        inline: list[dict[str, Any]] = []
        nested: list[dict[str, Any]] = []
        for inner in item.blocks:
            if isinstance(inner, md.ListBlock) and inner.is_tasks:
                nested.append(_adf_tasks(inner))
            elif isinstance(inner, md.Heading | md.Paragraph):
                inline.extend(_adf_inline(inner.inline))
        state = "DONE" if item.checked else "TODO"
        items.append({"type": "taskItem", "attrs": {"localId": _local_id(), "state": state}, "content": inline})
        items.extend(nested)
    return {"type": "taskList", "attrs": {"localId": _local_id()}, "content": items}


def _local_id() -> str:
    return str(uuid.uuid4())


def _empty_paragraph() -> dict[str, Any]:
    return {"type": "paragraph", "content": []}


def _adf_row(cell_type: str, cells: tuple[tuple[md.Inline, ...], ...]) -> dict[str, Any]:
    return {
        "type": "tableRow",
        "content": [
            {"type": cell_type, "content": [{"type": "paragraph", "content": _adf_inline(cell)}]} for cell in cells
        ],
    }


def _adf_inline(spans: tuple[md.Inline, ...], marks: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for span in spans:
        if isinstance(span, md.Text):
            if span.text:
                out.append(_text_node(span.text, marks))
        elif isinstance(span, md.Code):
            # ADF allows only a link beside the code mark.
            out.append(_text_node(span.text, (*tuple(m for m in marks if m["type"] == "link"), {"type": "code"})))
        elif isinstance(span, md.Break):
            out.append({"type": "hardBreak"})
        elif isinstance(span, md.Styled):
            out.extend(_adf_inline(span.children, (*marks, {"type": span.style})))
        elif isinstance(span, md.Link):
            out.extend(_adf_inline(span.children, (*marks, {"type": "link", "attrs": {"href": span.href}})))
    return out


def _text_node(text: str, marks: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node
