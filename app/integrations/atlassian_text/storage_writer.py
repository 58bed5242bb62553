"""Markdown as Confluence storage format: the minimal markup Confluence accepts for what Adjutant writes.

Paragraphs, headings, lists (task lists as `ac:task-list`), code blocks as the code macro (verbatim in
CDATA), quotes, rules, tables, and inline styles and links. Every text is escaped, so the result is
well-formed XHTML whatever the Markdown holds.
"""

from __future__ import annotations

import html

from app.integrations.atlassian_text import markdown as md


def markdown_to_storage(text: str) -> str:
    """Storage XHTML for `text`: well-formed, every text escaped, code kept verbatim in the code macro."""
    counter = iter(range(1, 1_000_000))
    return "".join(_storage_block(block, counter) for block in md.parse(text))


def _storage_block(block: md.Block, counter) -> str:
    if isinstance(block, md.Heading):
        return f"<h{block.level}>{_storage_inline(block.inline)}</h{block.level}>"
    if isinstance(block, md.Paragraph):
        return f"<p>{_storage_inline(block.inline)}</p>"
    if isinstance(block, md.CodeBlock):
        language = (
            f'<ac:parameter ac:name="language">{html.escape(block.language)}</ac:parameter>' if block.language else ""
        )
        code = block.text.replace("]]>", "]]]]><![CDATA[>")  # a CDATA section cannot contain its own end
        return (
            f'<ac:structured-macro ac:name="code">{language}'
            f"<ac:plain-text-body><![CDATA[{code}]]></ac:plain-text-body></ac:structured-macro>"
        )
    if isinstance(block, md.Quote):
        return "<blockquote>" + "".join(_storage_block(b, counter) for b in block.blocks) + "</blockquote>"
    if isinstance(block, md.Rule):
        return "<hr />"
    if isinstance(block, md.Table):
        head = "<tr>" + "".join(f"<th>{_storage_inline(c)}</th>" for c in block.header) + "</tr>"
        rows = "".join("<tr>" + "".join(f"<td>{_storage_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table><tbody>{head}{rows}</tbody></table>"
    if isinstance(block, md.ListBlock):
        if block.is_tasks:
            return _storage_tasks(block, counter)
        tag = "ol" if block.ordered else "ul"
        items = "".join(f"<li>{_storage_item(item, counter)}</li>" for item in block.items)
        start = f' start="{block.start}"' if block.ordered and block.start != 1 else ""
        return f"<{tag}{start}>{items}</{tag}>"
    return ""


def _storage_item(item: md.ListItem, counter) -> str:
    # A single-paragraph item stays inline (`<li>text</li>`), as Confluence's editor writes it.
    if len(item.blocks) >= 1 and isinstance(item.blocks[0], md.Paragraph):
        first = _storage_inline(item.blocks[0].inline)
        return first + "".join(_storage_block(b, counter) for b in item.blocks[1:])
    return "".join(_storage_block(b, counter) for b in item.blocks)


def _storage_tasks(block: md.ListBlock, counter) -> str:
    tasks = []
    for item in block.items:
        status = "complete" if item.checked else "incomplete"
        tasks.append(
            f"<ac:task><ac:task-id>{next(counter)}</ac:task-id><ac:task-status>{status}</ac:task-status>"
            f"<ac:task-body>{_storage_item(item, counter)}</ac:task-body></ac:task>"
        )
    return "<ac:task-list>" + "".join(tasks) + "</ac:task-list>"


def _storage_inline(spans: tuple[md.Inline, ...]) -> str:
    out: list[str] = []
    for span in spans:
        if isinstance(span, md.Text):
            out.append(html.escape(span.text, quote=False))
        elif isinstance(span, md.Code):
            out.append(f"<code>{html.escape(span.text, quote=False)}</code>")
        elif isinstance(span, md.Break):
            out.append("<br />")
        elif isinstance(span, md.Styled):
            inner = _storage_inline(span.children)
            if span.style == "strike":
                out.append(f'<span style="text-decoration: line-through;">{inner}</span>')
            else:
                out.append(f"<{span.style}>{inner}</{span.style}>")
        elif isinstance(span, md.Link):
            out.append(f'<a href="{html.escape(span.href, quote=True)}">{_storage_inline(span.children)}</a>')
    return "".join(out)
