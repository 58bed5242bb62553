"""Items into searchable chunks: documents by heading section and size; an answer as one Q&A chunk (its
question's title and gist, then the answer) plus one `qa_code` chunk per code block, with its language."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from app.knowledge.items import ChunkKind, KnowledgeItem
from app.knowledge.markup import split_code
from app.search.words import search_words

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
QUESTION_GIST_CHARS = 600
MIN_CODE_CHARS = 20  # `x = 1` alone explains nothing on its own


@dataclass(frozen=True)
class KnowledgeChunkDraft:
    position: int
    kind: ChunkKind
    language: str | None
    section: str | None
    text: str
    embed_text: str  # what the vector is computed from: the text with its title for context
    search_text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode()).hexdigest()


def _pieces(text: str, max_chars: int) -> list[str]:
    """Paragraphs packed up to `max_chars`; a longer paragraph is cut at line ends, then hard."""
    pieces: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        while len(paragraph) > max_chars:
            cut = paragraph.rfind("\n", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            head, paragraph = paragraph[:cut].rstrip(), paragraph[cut:].lstrip()
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if current and len(current) + 2 + len(paragraph) > max_chars:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        pieces.append(current)
    return pieces


def _sections(markdown: str) -> list[tuple[str, str]]:
    """(heading trail, body) per section; fenced code is not searched for headings."""
    masked = re.sub(r"```.*?```", lambda m: re.sub(r"#", " ", m.group(0)), markdown, flags=re.DOTALL)
    sections: list[tuple[str, str]] = []
    trail: list[tuple[int, str]] = []
    start = 0
    heading = ""
    for match in HEADING.finditer(masked):
        sections.append((heading, markdown[start : match.start()]))
        level = len(match.group(1))
        trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, match.group(2).strip())]
        heading = " > ".join(name for _, name in trail)
        start = match.end()
    sections.append((heading, markdown[start:]))
    return [(h, body.strip()) for h, body in sections if body.strip() or h]


def _draft(
    position: int, kind: ChunkKind, language: str | None, title: str, text: str, section: str | None = None
) -> KnowledgeChunkDraft:
    embed_text = f"{title}\n\n{text}" if title else text
    return KnowledgeChunkDraft(position, kind, language, section, text, embed_text, search_words(embed_text))


def chunk_item(item: KnowledgeItem, *, max_chars: int) -> list[KnowledgeChunkDraft]:
    if item.kind == "qa":
        return _chunk_answer(item, max_chars)
    drafts: list[KnowledgeChunkDraft] = []
    for heading, body in _sections(item.text):
        label = f"{item.title} — {heading}" if heading and heading != item.title else item.title
        for piece in _pieces(body or heading, max_chars):
            drafts.append(_draft(len(drafts), "doc", None, label, piece, heading or None))
    return drafts


def _chunk_answer(item: KnowledgeItem, max_chars: int) -> list[KnowledgeChunkDraft]:
    question = str(item.meta.get("question_text") or "").strip()
    gist = question[:QUESTION_GIST_CHARS] + ("…" if len(question) > QUESTION_GIST_CHARS else "")
    lead = f"Question: {item.title}\n\n{gist}".strip()
    drafts: list[KnowledgeChunkDraft] = []
    for index, piece in enumerate(_pieces(item.text, max_chars)):
        body = f"{lead}\n\nAnswer:\n{piece}" if index == 0 else piece
        drafts.append(_draft(len(drafts), "qa", None, "" if index == 0 else item.title, body))
    for block in split_code(item.text):
        if block.kind == "code" and len(block.text.strip()) >= MIN_CODE_CHARS:
            code = block.text[:max_chars]
            drafts.append(_draft(len(drafts), "qa_code", block.language or item.language_hint, item.title, code))
    return drafts
