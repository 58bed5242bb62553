"""Rebuilding what a lost step showed from its buffered frames, and the outcome its buffer records."""

from __future__ import annotations

from typing import Any

from app.chat.settle import LOST_MESSAGE, blocks_of, outcome_of


def frame(kind: str, content: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, **data}
    if content is not None:
        body["content"] = content
    return {"message_id": "1-0", "data": body}


def test_every_shown_block_is_rebuilt_in_order_and_an_unfinished_one_keeps_its_text():
    frames = [
        frame("STREAM_INITIALIZED"),
        frame("THINKING_BLOCK_START"),
        frame("THINKING_BLOCK_DELTA", {"thinking_delta": "hmm"}),
        frame("THINKING_BLOCK_END"),
        frame("TEXT_START"),
        frame("TEXT_DELTA", {"text": "Here "}),
        frame("TEXT_DELTA", {"text": "it is."}),
        frame("TEXT_BLOCK_END"),
        frame("CODE_BLOCK_START", {"language": "diff", "filepath": "/r/a.py", "is_diff": True}),
        frame("CODE_BLOCK_DELTA", {"code_delta": "+new\n-old\n"}),
        frame("CODE_BLOCK_END", {"diff": "+new\n-old\n", "added_lines": 1, "removed_lines": 1}),
        frame("TASK_PLAN", {"latest_plan_steps": [{"step_description": "x", "is_completed": False}]}),
        frame("TOOL_USE_REQUEST_START", {"tool_name": "grep_search", "tool_use_id": "t1"}),
        frame("TOOL_USE_REQUEST_END"),
        frame("TEXT_START"),
        frame("TEXT_DELTA", {"text": "cut o"}),
    ]
    assert blocks_of(frames) == [
        ("THINKING", {"thinking_summary": "hmm", "thinking_status": "COMPLETED"}),
        ("TEXT", {"text": "Here it is."}),
        (
            "CODE_BLOCK",
            {
                "language": "diff",
                "file_path": "/r/a.py",
                "code": "+new\n-old\n",
                "diff": "+new\n-old\n",
                "added_lines": 1,
                "removed_lines": 1,
            },
        ),
        ("TASK_PLAN", {"latest_plan_steps": [{"step_description": "x", "is_completed": False}]}),
        ("TEXT", {"text": "cut o"}),
    ]
    assert blocks_of([frame("TEXT_START")]) == [], "an unfinished block with nothing in it is not history"


def test_the_outcome_of_a_lost_step_is_the_ending_its_buffer_holds_else_a_failure():
    assert outcome_of(None, []) == (
        "FAILED",
        "STREAM_ERROR",
        {"status": "INTERNAL_ERROR", "message": LOST_MESSAGE},
        None,
    )
    error = frame("STREAM_ERROR", status="PROVIDER_ERROR", message="boom")
    assert outcome_of(error, [error])[:2] == ("FAILED", "STREAM_ERROR")
    cancelled = frame("STREAM_ERROR", status="CANCELLED", message="Stopped by user")
    assert outcome_of(cancelled, [cancelled])[0] == "CANCELLED"
    completion = frame("TASK_COMPLETION", {"query_id": 1, "success": False, "summary": None})
    end = frame("STREAM_END_CLOSE_CONNECTION")
    assert outcome_of(end, [completion, end]) == ("COMPLETED", "STREAM_END_CLOSE_CONNECTION", None, "FAILED")
    malformed = frame("MALFORMED_TOOL_USE_REQUEST", {"reason": "r", "raw_payload": "x"})
    assert outcome_of(frame("STREAM_END"), [malformed, frame("STREAM_END")])[0] == "MALFORMED"
    assert outcome_of(frame("STREAM_END"), [frame("STREAM_END")])[0] == "TOOL_TURN"
