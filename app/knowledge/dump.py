"""Stack Exchange data dumps: `Posts.xml` read as a stream (iterparse, each row cleared once read), so a dump of
any size costs memory only for the questions that pass the filters (their title, tags and the gist of their
body), never for the file.

A row is `<row Id PostTypeId ParentId AcceptedAnswerId Score Tags Title Body CreationDate OwnerUserId
OwnerDisplayName .../>`: PostTypeId 1 a question, 2 an answer (ParentId its question). Tags are `<a><b>` in
older dumps and `|a|b|` in newer ones; Body is HTML. Questions come before their answers (rows are in Id
order), so an answer whose question was not kept is skipped.
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from app.knowledge.items import KnowledgeItem, stack_overflow_attribution
from app.knowledge.markup import html_to_markdown, language_from_tags

QUESTION_GIST_CHARS = 1500
TAG = re.compile(r"<([^<>]+)>|\|([^|]+)")


def parse_tags(value: str | None) -> list[str]:
    """`<python><asyncio>` or `|python|asyncio|` as a list."""
    if not value:
        return []
    return [a or b for a, b in TAG.findall(value) if (a or b).strip()]


def _year_month(value: str | None) -> tuple[int, int] | None:
    try:
        when = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return (when.year, when.month) if when else None


@dataclass(frozen=True)
class DumpFilter:
    tags: frozenset[str] = frozenset()  # a question needs at least one of them (empty: any)
    min_score: int = 0  # of a question
    min_answer_score: int = 1  # answers below are skipped unless accepted
    answers_per_question: int = 3
    from_date: datetime | None = None
    to_date: datetime | None = None
    max_questions: int = 100_000

    def keeps(self, tags: list[str], score: int, created: datetime | None) -> bool:
        if self.tags and not self.tags.intersection(tags):
            return False
        if score < self.min_score:
            return False
        if created is not None and self.from_date is not None and created < self.from_date:
            return False
        return not (created is not None and self.to_date is not None and created > self.to_date)


@dataclass
class _Question:
    title: str
    tags: list[str]
    gist: str
    score: int
    accepted_id: str | None
    emitted: int = 0


@dataclass
class PostsReader:
    """Items of one Posts.xml. `retained_max` is the most rows the parse tree ever held at once: each row is
    cleared and dropped once read, so it is bounded by the parser's read-ahead, not by the file (the tests
    check it)."""

    stream: IO[bytes]
    filter: DumpFilter = field(default_factory=DumpFilter)
    site_url: str = "https://stackoverflow.com"
    site_name: str = "Stack Overflow"
    retained_max: int = 0
    rows: int = 0
    questions: dict[str, _Question] = field(default_factory=dict)

    def items(self) -> Iterator[KnowledgeItem]:
        root: ET.Element | None = None
        for event, element in ET.iterparse(self.stream, events=("start", "end")):  # noqa: S314 - see import
            if event == "start":
                if root is None:
                    root = element
                continue
            if element.tag != "row":
                continue
            self.rows += 1
            assert root is not None
            self.retained_max = max(self.retained_max, len(root))
            item = self._row(element.attrib)
            element.clear()
            root.clear()  # the cleared row is also dropped from its parent, so nothing accumulates
            if item is not None:
                yield item

    def _row(self, row: dict[str, str]) -> KnowledgeItem | None:
        kind = row.get("PostTypeId")
        if kind == "1":
            self._question(row)
            return None
        if kind == "2":
            return self._answer(row)
        return None

    def _question(self, row: dict[str, str]) -> None:
        if len(self.questions) >= self.filter.max_questions:
            return
        tags = parse_tags(row.get("Tags"))
        created = _parse_time(row.get("CreationDate"))
        if not self.filter.keeps(tags, _int(row.get("Score")), created):
            return
        _, body = html_to_markdown(row.get("Body") or "")
        self.questions[row["Id"]] = _Question(
            title=(row.get("Title") or "").strip(),
            tags=tags,
            gist=body[:QUESTION_GIST_CHARS],
            score=_int(row.get("Score")),
            accepted_id=row.get("AcceptedAnswerId"),
        )

    def _answer(self, row: dict[str, str]) -> KnowledgeItem | None:
        question_id = row.get("ParentId") or ""
        question = self.questions.get(question_id)
        if question is None:
            return None
        accepted = question.accepted_id is not None and question.accepted_id == row.get("Id")
        score = _int(row.get("Score"))
        if not accepted and (
            score < self.filter.min_answer_score or question.emitted >= self.filter.answers_per_question
        ):
            return None
        question.emitted += 1
        _, text = html_to_markdown(row.get("Body") or "")
        answer_id = row["Id"]
        link = f"{self.site_url}/a/{answer_id}"
        user = row.get("OwnerUserId")
        author = row.get("OwnerDisplayName") or (f"user {user}" if user else None)
        return KnowledgeItem(
            external_id=f"q{question_id}/a{answer_id}",
            kind="qa",
            title=question.title,
            text=text,
            url=link,
            meta=_qa_meta(question, question_id, answer_id, score, accepted),
            attribution=stack_overflow_attribution(
                author=author,
                author_url=f"{self.site_url}/users/{user}" if user else None,
                link=link,
                created=_year_month(row.get("CreationDate")),
                site=self.site_name,
            ),
            language_hint=language_from_tags(question.tags),
        )


def _qa_meta(question: _Question, question_id: str, answer_id: str, score: int, accepted: bool) -> dict[str, Any]:
    return {
        "question": question.title,
        "question_text": question.gist,
        "question_id": _int(question_id),
        "answer_id": _int(answer_id),
        "question_score": question.score,
        "score": score,
        "accepted": accepted,
        "tags": question.tags,
    }


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


async def dump_items(
    path: Path, reader_filter: DumpFilter, *, site_url: str, site_name: str
) -> AsyncIterator[KnowledgeItem]:
    """The dump's items. The parse runs in a worker thread, one item at a time: between two kept answers it may
    read many rows, and the event loop must not wait for that."""
    with path.open("rb") as stream:
        rows = PostsReader(stream, reader_filter, site_url=site_url, site_name=site_name).items()
        while (item := await asyncio.to_thread(next, rows, None)) is not None:
            yield item
