"""Folders of text as knowledge: a docs folder (Markdown and reStructuredText pages) and a Markdown FAQ
(every heading with text under it is a question, that text its answer). Files are read one at a time; hidden
entries, symbolic links and files above the size limit are skipped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from app.knowledge.items import KnowledgeItem

DOC_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst", ".txt"})
FAQ_SUFFIXES = frozenset({".md", ".markdown"})
MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
RST_CODE = re.compile(r"^\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)\s*$")


def files_under(root: Path, suffixes: frozenset[str], max_bytes: int) -> Iterator[Path]:
    """Files in `root` (sorted, so imports are repeatable), never following a link out of it."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.is_symlink():
            continue
        if path.suffix.lower() in suffixes and path.is_file() and path.stat().st_size <= max_bytes:
            yield path


def rst_to_markdown(text: str) -> str:
    """Enough reStructuredText for search: underlined titles as headings (levels in order of first use),
    `.. code-block:: lang` and `::` literal blocks as fenced code."""
    lines = text.splitlines()
    out: list[str] = []
    levels: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and RST_UNDERLINE.match(following) and len(following.strip()) >= len(line.strip()):
            mark = following.strip()[0]
            if mark not in levels:
                levels.append(mark)
            out.append("#" * min(levels.index(mark) + 1, 6) + " " + line.strip())
            i += 2
            continue
        code = RST_CODE.match(line.strip())
        literal = line.rstrip().endswith("::") and not line.strip().startswith("..")
        if code or literal:
            if literal:
                out.append(line.rstrip()[:-1])
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            body = "\n".join(b[4:] if b.startswith("    ") else b.strip() for b in block).strip("\n")
            if body.strip():
                out.append(f"```{code.group(1) if code else ''}\n{body}\n```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _title(markdown: str, fallback: str) -> str:
    for line in markdown.splitlines():
        found = MD_HEADING.match(line)
        if found:
            return found.group(2).strip()
    return fallback


def _link(link_base: str | None, relative: str, anchor: str = "") -> str | None:
    return f"{link_base.rstrip('/')}/{relative}{anchor}" if link_base else None


async def docs_items(root: Path, *, link_base: str | None, max_file_bytes: int) -> AsyncIterator[KnowledgeItem]:
    for path in files_under(root, DOC_SUFFIXES, max_file_bytes):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() == ".rst":
            text = rst_to_markdown(text)
        if not text.strip():
            continue
        yield KnowledgeItem(
            external_id=relative,
            kind="doc",
            title=_title(text, path.stem.replace("-", " ").replace("_", " ")),
            text=text,
            url=_link(link_base, relative),
            meta={"path": relative},
        )


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def faq_entries(markdown: str) -> list[tuple[str, str]]:
    """(question, answer) for every heading with text under it; a lone top-level heading is the page's title."""
    masked_lines = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        masked_lines.append((line, None if fenced else MD_HEADING.match(line)))
    headings = [(n, m) for n, (_, m) in enumerate(masked_lines) if m]
    titles = [m for _, m in headings if len(m.group(1)) == 1]
    entries: list[tuple[str, str]] = []
    for index, (line_no, match) in enumerate(headings):
        if len(titles) == 1 and match is titles[0]:
            continue
        end = headings[index + 1][0] if index + 1 < len(headings) else len(masked_lines)
        body = "\n".join(line for line, _ in masked_lines[line_no + 1 : end]).strip()
        if body:
            entries.append((match.group(2).strip(), body))
    return entries


async def faq_items(root: Path, *, link_base: str | None, max_file_bytes: int) -> AsyncIterator[KnowledgeItem]:
    for path in files_under(root, FAQ_SUFFIXES, max_file_bytes):
        relative = path.relative_to(root).as_posix()
        topic = path.stem.replace("-", " ").replace("_", " ")
        for question, answer in faq_entries(path.read_text(encoding="utf-8", errors="replace")):
            anchor = slug(question)
            yield KnowledgeItem(
                external_id=f"{relative}#{anchor}",
                kind="qa",
                title=question,
                text=answer,
                url=_link(link_base, relative, f"#{anchor}"),
                meta={"question": question, "accepted": True, "tags": [topic], "path": relative},
            )
