"""Edits a terminal command as the user asks (`terminal-command-edit`); only the command comes back."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

TEMPLATE = Template(Path(__file__).with_name("prompt.md").read_text(encoding="utf-8"))
FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
PROSE = re.compile(r"^(?:here(?: is|'s)|the (?:edited|updated|new|modified) command|sure|okay|ok)\b.*$", re.I)
PROMPT_SIGN = re.compile(r"^(?:\$|>|PS [^>]*>)\s+")
COMMAND_CHARS = 20_000


def prompt(*, query: str, old_terminal_command: str, os_name: str, shell: str) -> str:
    return TEMPLATE.safe_substitute(
        query=query, old_terminal_command=old_terminal_command, os_name=os_name, shell=shell
    ).strip()


def parse(answer: str) -> str | None:
    """The command alone: the first fenced block if there is one, else the answer without prose lines,
    inline backticks or a shell prompt sign. None when nothing is left."""
    text = answer.strip()
    fenced = FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    else:
        # Unfenced: the first paragraph that is not prose (an explanation may follow a blank line).
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        kept = [[ln for ln in p.splitlines() if ln.strip() and not PROSE.match(ln.strip())] for p in paragraphs]
        text = "\n".join(next((lines for lines in kept if lines), []))
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    lines = [PROMPT_SIGN.sub("", line) for line in text.splitlines()]
    command = "\n".join(lines).strip()
    return command[:COMMAND_CHARS] or None
