"""A streaming parser for the markup agents answer with, producing protocol blocks even when a tag is
split across chunks.

    <thinking>...</thinking>                     -> a thinking block
    <code_block language="py" file_path="/abs/a.py" is_diff="false">...</code_block>  -> a code block
    <task_plan><step done="true">...</step>...</task_plan>  (or "- [x] ..." lines)   -> a task plan
    <summary>...</summary>                       -> the query summary (not shown as text)
    anything else                                -> text blocks

Text outside tags opens a text block at its first non-blank character, so a block never carries only
whitespace; an unknown `<` passes through as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

TAGS = ("thinking", "code_block", "task_plan", "summary")
MAX_TAG_CHARS = 1024  # an opening tag longer than this is not one of ours
OPEN = re.compile(r"<(thinking|code_block|task_plan|summary)(\s[^<>]*)?>")
ATTRIBUTE = re.compile(r'([A-Za-z_]+)\s*=\s*"([^"]*)"')
PLAN_STEP = re.compile(r'<step(?:\s+(?:done|completed)\s*=\s*"(true|false)")?\s*>(.*?)</step>', re.S)
PLAN_LINE = re.compile(r"^\s*(?:[-*]|\d+[.)])\s*(?:\[( |x|X)\]\s*)?(.+?)\s*$")

Kind = Literal[
    "text_start",
    "text",
    "text_end",
    "thinking_start",
    "thinking",
    "thinking_end",
    "code_start",
    "code",
    "code_end",
    "plan",
    "summary",
]


@dataclass(frozen=True)
class MarkupEvent:
    kind: Kind
    text: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def _partial_prefix(text: str, candidates: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a prefix of one of `candidates`."""
    best = 0
    for candidate in candidates:
        for size in range(min(len(candidate), len(text)), best, -1):
            if candidate.startswith(text[-size:]):
                best = size
                break
    return best


def parse_plan(body: str) -> list[dict[str, Any]]:
    steps = [
        {"step_description": text.strip(), "is_completed": done == "true"} for done, text in PLAN_STEP.findall(body)
    ]
    if steps:
        return steps
    for line in body.splitlines():
        match = PLAN_LINE.match(line)
        if match and match.group(2):
            steps.append({"step_description": match.group(2), "is_completed": (match.group(1) or "").lower() == "x"})
    return steps


class MarkupParser:
    def __init__(self) -> None:
        self.buffer = ""
        self.inside: str | None = None  # the tag we are in
        self.text_open = False
        self.held_blank = ""  # whitespace outside blocks, kept until we know a text block follows
        self.tag_body: list[str] = []  # plan / summary bodies are emitted whole at their end
        self.code_started = False

    def feed(self, chunk: str) -> list[MarkupEvent]:
        self.buffer += chunk
        events: list[MarkupEvent] = []
        while self.buffer:
            if self.inside is None:
                if not self._outside(events):
                    break
            elif not self._within(events):
                break
        return events

    def finish(self) -> list[MarkupEvent]:
        """Close whatever is open (an unterminated tag keeps what was generated)."""
        events: list[MarkupEvent] = []
        rest, self.buffer = self.buffer, ""
        if self.inside is None:
            self._text(rest, events)
            self._close_text(events)
        else:
            self._body(rest, events)
            self._end_tag(events)
        return events

    # --- outside any tag: text, or the start of a tag ------------------------------------------------------

    def _outside(self, events: list[MarkupEvent]) -> bool:
        match = OPEN.search(self.buffer)
        if match is None:
            keep = _partial_prefix(self.buffer, tuple(f"<{t}" for t in TAGS))
            start = self.buffer.rfind("<", max(len(self.buffer) - MAX_TAG_CHARS, 0))
            # An opening tag may be split inside its attributes: hold from an unclosed '<' of ours.
            if (
                keep == 0
                and start >= 0
                and ">" not in self.buffer[start:]
                and re.match(r"<(thinking|code_block|task_plan|summary)\s", self.buffer[start:])
            ):
                keep = len(self.buffer) - start
            self._text(self.buffer[: len(self.buffer) - keep], events)
            self.buffer = self.buffer[len(self.buffer) - keep :]
            return False
        self._text(self.buffer[: match.start()], events)
        self._close_text(events)
        self.held_blank = ""
        tag = match.group(1)
        attributes = dict(ATTRIBUTE.findall(match.group(2) or ""))
        self.buffer = self.buffer[match.end() :]
        self.inside = tag
        self.tag_body = []
        if tag == "thinking":
            events.append(MarkupEvent("thinking_start"))
        elif tag == "code_block":
            self.code_started = False
            events.append(
                MarkupEvent(
                    "code_start",
                    attributes={
                        "language": attributes.get("language", ""),
                        "file_path": attributes.get("file_path", ""),
                        "is_diff": attributes.get("is_diff", "false").lower() == "true",
                    },
                )
            )
        return True

    def _text(self, text: str, events: list[MarkupEvent]) -> None:
        if not text:
            return
        if not self.text_open:
            if not text.strip():
                self.held_blank += text
                return
            stripped = (self.held_blank + text).lstrip("\n")
            self.held_blank = ""
            self.text_open = True
            events.append(MarkupEvent("text_start"))
            text = stripped
        events.append(MarkupEvent("text", text))

    def _close_text(self, events: list[MarkupEvent]) -> None:
        if self.text_open:
            self.text_open = False
            events.append(MarkupEvent("text_end"))

    # --- inside a tag: its body, until the closing tag ------------------------------------------------------

    def _within(self, events: list[MarkupEvent]) -> bool:
        assert self.inside is not None
        closing = f"</{self.inside}>"
        end = self.buffer.find(closing)
        if end < 0:
            keep = _partial_prefix(self.buffer, (closing,))
            if self.inside == "code_block" and self.buffer[: len(self.buffer) - keep].endswith("\n"):
                keep += 1  # a newline right before </code_block> is layout: hold it until we know
            self._body(self.buffer[: len(self.buffer) - keep], events)
            self.buffer = self.buffer[len(self.buffer) - keep :]
            return False
        self._body(self.buffer[:end], events, final=True)
        self.buffer = self.buffer[end + len(closing) :]
        self._end_tag(events)
        return True

    def _body(self, text: str, events: list[MarkupEvent], final: bool = False) -> None:
        if self.inside in ("task_plan", "summary"):
            self.tag_body.append(text)
            return
        if self.inside == "code_block":
            if not self.code_started:
                text = text.removeprefix("\n")  # the newline right after the opening tag is layout
                self.code_started = bool(text)
            if final:
                text = text.removesuffix("\n")
            if text:
                events.append(MarkupEvent("code", text))
            return
        if text:
            events.append(MarkupEvent("thinking", text))

    def _end_tag(self, events: list[MarkupEvent]) -> None:
        tag, self.inside = self.inside, None
        if tag == "thinking":
            events.append(MarkupEvent("thinking_end"))
        elif tag == "code_block":
            events.append(MarkupEvent("code_end"))
        elif tag == "task_plan":
            events.append(MarkupEvent("plan", attributes={"steps": parse_plan("".join(self.tag_body))}))
        elif tag == "summary":
            events.append(MarkupEvent("summary", "".join(self.tag_body).strip()))
