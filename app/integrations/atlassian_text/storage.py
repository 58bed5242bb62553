"""Confluence storage format (XHTML with `ac:` macros and `ri:` resource identifiers) to and from Markdown.

Reading renders what a reader needs: headings, paragraphs, lists and task lists, the code / noformat macros
as fenced code with their language, admonition macros (info, note, warning, tip, panel) as labelled quotes,
expand macros with their title, tables, links (to pages, users, attachments and the web), images as
placeholders, emoticons as their emoji, inline status and Jira macros as text. Layout containers are
transparent; unknown macros give their rich body.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"br", "hr", "img", "col", "area", "input", "meta", "link", "wbr", "source"})
BLOCK = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote", "hr", "table", "div", "section"}
    | {"ac:task-list", "ac:layout", "ac:layout-section", "ac:layout-cell", "ac:adf-extension", "li"}
)
CLOSES_P = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote", "table", "hr", "div"})
INLINE_MACROS = frozenset({"status", "jira", "anchor", "emoticon"})
LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
EMOTICONS = {
    "smile": "🙂",
    "sad": "🙁",
    "cheeky": "😛",
    "laugh": "😀",
    "wink": "😉",
    "thumbs-up": "👍",
    "thumbs-down": "👎",
    "information": "ℹ️",
    "tick": "✅",
    "cross": "❌",
    "warning": "⚠️",
    "plus": "➕",
    "minus": "➖",
    "question": "❓",
    "light-on": "💡",
    "light-off": "💡",
    "yellow-star": "⭐",
    "red-star": "⭐",
    "green-star": "⭐",
    "blue-star": "⭐",
    "heart": "❤️",
}
CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
MAX_DEPTH = 60


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def find(self, tag: str) -> Node | None:
        return next((c for c in self.children if isinstance(c, Node) and c.tag == tag), None)

    def param(self, name: str) -> str:
        for child in self.children:
            if isinstance(child, Node) and child.tag == "ac:parameter" and child.attrs.get("ac:name") == name:
                return _text(child).strip()
        return ""


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # HTML's implied end tags, for storage a proxy or an old editor left unclosed.
        top = self._stack[-1].tag
        if (top == "p" and tag in CLOSES_P) or (top == "li" and tag == "li"):
            self._stack.pop()
        node = Node(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(node)
        if tag not in VOID and len(self._stack) < MAX_DEPTH:
            self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, 0, -1):
            if self._stack[index].tag == tag:
                del self._stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)


def parse_storage(xhtml: str) -> Node:
    # CDATA sections (code macro bodies) become escaped text, so the parser treats them as data whatever
    # its version's handling of marked sections.
    builder = _TreeBuilder()
    builder.feed(CDATA.sub(lambda m: html.escape(m.group(1), quote=False), xhtml or ""))
    builder.close()
    return builder.root


def storage_to_markdown(xhtml: str | None) -> str:
    if not xhtml:
        return ""
    text = _join(_blocks(parse_storage(xhtml).children, 0))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _join(blocks: list[str], tight: bool = False) -> str:
    return ("\n" if tight else "\n\n").join(b for b in blocks if b.strip())


def _text(node: Node | str) -> str:
    if isinstance(node, str):
        return node
    return "".join(_text(c) for c in node.children)


def _is_block(node: Node | str) -> bool:
    if isinstance(node, str):
        return False
    if node.tag == "ac:structured-macro":
        return node.attrs.get("ac:name") not in INLINE_MACROS
    return node.tag in BLOCK


def _blocks(children: list[Node | str], depth: int) -> list[str]:
    out: list[str] = []
    run: list[Node | str] = []
    for child in children:
        if _is_block(child):
            if run:
                out.append(_inline(run, depth))
                run = []
            out.append(_block(child, depth))  # type: ignore[arg-type]
        else:
            run.append(child)
    if run:
        out.append(_inline(run, depth))
    return out


def _indent(text: str, prefix: str) -> str:
    pad = " " * len(prefix)
    lines = text.split("\n")
    return "\n".join([prefix + lines[0]] + [(pad + line) if line else "" for line in lines[1:]])


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line else ">" for line in text.split("\n"))


def _block(node: Node, depth: int) -> str:
    tag = node.tag
    if depth > MAX_DEPTH:
        return " ".join(_text(node).split())
    if tag == "p":
        return _inline(node.children, depth)
    if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
        return "#" * int(tag[1]) + " " + _inline(node.children, depth)
    if tag in ("ul", "ol"):
        start = int(node.attrs.get("start") or 1) if node.attrs.get("start", "1").isdigit() else 1
        items = []
        for index, item in enumerate(c for c in node.children if isinstance(c, Node) and c.tag == "li"):
            prefix = f"{start + index}. " if tag == "ol" else "- "
            items.append(_indent(_join(_blocks(item.children, depth + 1), tight=True), prefix))
        return "\n".join(items)
    if tag == "li":
        return _indent(_join(_blocks(node.children, depth + 1), tight=True), "- ")
    if tag == "pre":
        return _fence("", _text(node))
    if tag == "blockquote":
        return _quote(_join(_blocks(node.children, depth + 1)))
    if tag == "hr":
        return "---"
    if tag == "table":
        return _table(node, depth)
    if tag == "ac:task-list":
        return _tasks(node, depth)
    if tag == "ac:structured-macro":
        return _macro(node, depth)
    if tag == "ac:adf-extension":
        fallback = _descendant(node, "ac:adf-fallback")
        return _join(_blocks(fallback.children, depth + 1)) if fallback else ""
    return _join(_blocks(node.children, depth + 1))


def _descendant(node: Node, tag: str) -> Node | None:
    for child in node.children:
        if isinstance(child, Node):
            if child.tag == tag:
                return child
            found = _descendant(child, tag)
            if found is not None:
                return found
    return None


def _fence(language: str, code: str) -> str:
    code = code.strip("\n")
    fence = "````" if "```" in code else "```"
    return f"{fence}{language}\n{code}\n{fence}"


def _macro(node: Node, depth: int) -> str:
    name = node.attrs.get("ac:name", "")
    rich = node.find("ac:rich-text-body")
    if name in ("code", "noformat"):
        body = node.find("ac:plain-text-body")
        return _fence(node.param("language") if name == "code" else "", _text(body) if body else "")
    if name in LABELS:
        label = node.param("title") or LABELS[name]
        body = _join(_blocks(rich.children, depth + 1)) if rich else ""
        return _quote(f"**{label}:** {body}" if label else body)
    if name in ("expand", "ui-expand"):
        title = node.param("title") or "Details"
        body = _join(_blocks(rich.children, depth + 1)) if rich else ""
        return f"**{title}**\n\n{body}"
    if name in ("toc", "children", "pagetree", "recently-updated", "contentbylabel", "attachments"):
        return ""  # generated listings: nothing of the page's own content
    if rich is not None:
        return _join(_blocks(rich.children, depth + 1))
    plain = node.find("ac:plain-text-body")
    return _fence("", _text(plain)) if plain is not None else ""


def _tasks(node: Node, depth: int) -> str:
    lines = []
    for task in (c for c in node.children if isinstance(c, Node) and c.tag == "ac:task"):
        status = task.find("ac:task-status")
        done = status is not None and _text(status).strip() == "complete"
        body = task.find("ac:task-body")
        text = _join(_blocks(body.children, depth + 1), tight=True) if body else ""
        lines.append(_indent(text, "- [x] " if done else "- [ ] "))
    return "\n".join(lines)


def _table(node: Node, depth: int) -> str:
    rows: list[list[str]] = []
    header = False
    for row in _rows(node):
        cells = [c for c in row.children if isinstance(c, Node) and c.tag in ("th", "td")]
        if not rows:
            header = bool(cells) and all(c.tag == "th" for c in cells)
        rows.append([_join(_blocks(c.children, depth + 1)).replace("\n", " ").replace("|", "\\|") for c in cells])
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    top = rows[0] if header else [""] * width
    body = rows[1:] if header else rows
    lines = ["| " + " | ".join(top) + " |", "|" + "|".join(["---"] * width) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _rows(node: Node) -> list[Node]:
    rows: list[Node] = []
    for child in node.children:
        if isinstance(child, Node):
            if child.tag == "tr":
                rows.append(child)
            elif child.tag in ("thead", "tbody", "tfoot"):
                rows.extend(_rows(child))
    return rows


def _inline(children: list[Node | str], depth: int) -> str:
    out: list[str] = []
    for child in children:
        if isinstance(child, str):
            out.append(re.sub(r"\s+", " ", child.replace("\xa0", " ")))
        else:
            out.append(_inline_node(child, depth))
    return "".join(out).strip(" ")


def _wrap(mark: str, text: str) -> str:
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


def _inline_node(node: Node, depth: int) -> str:
    tag = node.tag
    if depth > MAX_DEPTH:
        return " ".join(_text(node).split())
    inner = lambda: _inline(node.children, depth + 1)  # noqa: E731 - evaluated only where needed
    if tag in ("strong", "b"):
        return _wrap("**", inner())
    if tag in ("em", "i"):
        return _wrap("*", inner())
    if tag in ("s", "del", "strike"):
        return _wrap("~~", inner())
    if tag == "span" and "line-through" in node.attrs.get("style", ""):
        return _wrap("~~", inner())
    if tag in ("code", "tt"):
        text = _text(node)
        return f"``{text}``" if "`" in text else f"`{text}`"
    if tag == "br":
        return "\n"
    if tag == "a":
        text = inner() or node.attrs.get("href", "")
        href = node.attrs.get("href", "")
        return f"[{text}]({href})" if href and href != text else text
    if tag == "img":
        return f"![{node.attrs.get('alt', '')}]({node.attrs.get('src', '')})"
    if tag == "time":
        return node.attrs.get("datetime", "") or inner()
    if tag == "ac:link":
        return _ac_link(node, depth)
    if tag == "ac:image":
        return _ac_image(node)
    if tag == "ac:emoticon":
        return node.attrs.get("ac:emoji-fallback") or EMOTICONS.get(node.attrs.get("ac:name", ""), "")
    if tag == "ac:structured-macro":
        name = node.attrs.get("ac:name", "")
        if name == "status":
            return f"[{node.param('title') or node.param('colour')}]"
        if name == "jira":
            return node.param("key") or node.param("jqlQuery")
        if name == "anchor":
            return ""
        return _macro(node, depth + 1).replace("\n", " ")
    if tag in ("ac:placeholder", "ac:parameter", "ac:task-id"):
        return ""
    if tag.startswith("ri:"):
        return _resource(node)
    if _is_block(node):
        return " " + _block(node, depth + 1).replace("\n", " ") + " "
    return inner()


def _resource(node: Node) -> str:
    attrs = node.attrs
    if node.tag == "ri:user":
        who = attrs.get("ri:username") or attrs.get("ri:userkey") or attrs.get("ri:account-id") or "someone"
        return "@" + who
    if node.tag == "ri:page":
        return attrs.get("ri:content-title", "")
    if node.tag == "ri:attachment":
        return attrs.get("ri:filename", "")
    if node.tag == "ri:url":
        return attrs.get("ri:value", "")
    return ""


def _ac_link(node: Node, depth: int) -> str:
    body = node.find("ac:link-body") or node.find("ac:plain-text-link-body")
    text = " ".join(_text(body).split()) if body is not None else ""
    target = next((c for c in node.children if isinstance(c, Node) and c.tag.startswith("ri:")), None)
    anchor = node.attrs.get("ac:anchor", "")
    if target is None:
        return text or (f"#{anchor}" if anchor else "")
    if target.tag == "ri:url":
        href = target.attrs.get("ri:value", "")
        return f"[{text or href}]({href})" if href else text
    if target.tag == "ri:user":
        return text or _resource(target)
    name = _resource(target)
    if target.tag == "ri:attachment":
        return f"[attachment: {text or name}]"
    if text and name and text != name:
        return f"{text} (page: {name})"
    return text or name


def _ac_image(node: Node) -> str:
    alt = node.attrs.get("ac:alt", "")
    url = node.find("ri:url")
    if url is not None and url.attrs.get("ri:value"):
        return f"![{alt}]({url.attrs['ri:value']})"
    attachment = node.find("ri:attachment")
    name = attachment.attrs.get("ri:filename", "") if attachment is not None else ""
    return f"[image: {alt or name or 'image'}]"
