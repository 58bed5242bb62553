"""The answer prompt: the rules of grounding, the requested style, and the numbered sources."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Literal

from app.answers.context import Context
from app.llm.types import Message

ResponseType = Literal["explain", "code", "howto"]
TEMPLATE = Template(Path(__file__).with_name("prompt.md").read_text(encoding="utf-8"))
STYLES: dict[str, str] = {
    "explain": "Style: explain in a few short paragraphs of prose how it works and why; quote code only where a "
    "line says it better than words.",
    "code": "Style: answer mainly with code: a short snippet built from what the sources show, in a fenced block, "
    "then one or two cited sentences on where each part comes from.",
    "howto": "Style: numbered steps the reader can follow, each with its citation; end with how to check it worked.",
}


def answer_messages(query: str, context: Context, response_type: ResponseType) -> tuple[Message, ...]:
    system = TEMPLATE.substitute(style=STYLES[response_type], sources=context.render())
    return (Message.system(system), Message.user(query))
