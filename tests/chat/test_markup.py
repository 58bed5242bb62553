"""The markup parser turns streamed model text into blocks, whatever the chunking."""

from __future__ import annotations

import pytest

from app.chat.markup import MarkupParser, parse_plan

ANSWER = (
    'Sure.\n<thinking>plan it</thinking>\n\n<code_block language="python" file_path="/r/a.py" is_diff="false">\n'
    "print(1)\n</code_block>\nDone <b> ok <task_plan>\n- [x] read\n- [ ] write\n</task_plan>"
    "<summary>Did it</summary>"
)
EXPECTED = [
    ("text_start", ""),
    ("text", "Sure.\n"),
    ("text_end", ""),
    ("thinking_start", ""),
    ("thinking", "plan it"),
    ("thinking_end", ""),
    ("code_start", {"language": "python", "file_path": "/r/a.py", "is_diff": False}),
    ("code", "print(1)"),
    ("code_end", ""),
    ("text_start", ""),
    ("text", "Done <b> ok "),
    ("text_end", ""),
    (
        "plan",
        {
            "steps": [
                {"step_description": "read", "is_completed": True},
                {"step_description": "write", "is_completed": False},
            ]
        },
    ),
    ("summary", "Did it"),
]


def parse(chunks: list[str]) -> list:
    parser = MarkupParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)] + parser.finish()
    merged: list = []
    for event in events:
        value = event.attributes or event.text
        if merged and event.kind in ("text", "thinking", "code") and merged[-1][0] == event.kind:
            merged[-1] = (event.kind, merged[-1][1] + event.text)
        else:
            merged.append((event.kind, value))
    return merged


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 10_000])
def test_any_chunking_gives_the_same_blocks(size):
    assert parse([ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]) == EXPECTED


def test_a_diff_block_keeps_its_content_and_an_unclosed_block_keeps_what_was_generated():
    events = parse(['<code_block language="diff" file_path="/r/b.py" is_diff="true">\n-a\n+b\n</code_block>'])
    assert events[1] == ("code", "-a\n+b")
    assert parse(["<thinking>half a tho", "ught"]) == [
        ("thinking_start", ""),
        ("thinking", "half a thought"),
        ("thinking_end", ""),
    ]


def test_whitespace_between_blocks_opens_no_empty_text_block():
    assert parse(["<thinking>x</thinking>\n\n  \n<summary>s</summary>"]) == [
        ("thinking_start", ""),
        ("thinking", "x"),
        ("thinking_end", ""),
        ("summary", "s"),
    ]


def test_plans_in_step_tags_or_checklists():
    assert parse_plan('<step done="true">a</step><step>b</step>') == [
        {"step_description": "a", "is_completed": True},
        {"step_description": "b", "is_completed": False},
    ]
    assert parse_plan("1. first\n2) [x] second") == [
        {"step_description": "first", "is_completed": False},
        {"step_description": "second", "is_completed": True},
    ]
