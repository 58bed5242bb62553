"""Offline token estimation (no tokenizer downloads): a conservative count checked before every call.

Byte-pair tokenizers split text into words, numbers, punctuation and whitespace, then break long pieces
into sub-words of ~4 characters. We count the same way and round every piece up, which over-estimates by a
few percent on prose and code (see bench/llm_overhead.py for the calibration against a real tokenizer) and
never under-estimates by much: a request we accept fits, a request we reject is near the limit anyway.
"""

from __future__ import annotations

import asyncio
import json
import math
import re

from app.llm.types import ImagePart, LLMRequest, Message, TextPart, ThinkingPart, ToolCallPart, ToolResultPart

PIECES = re.compile(r"[A-Za-z]+|[0-9]+|[^\sA-Za-z0-9]|\s+")
MESSAGE_OVERHEAD = 4  # role markers and separators per message
IMAGE_TOKENS = 1600  # a large image on the most expensive provider's tiling
TOOL_OVERHEAD = 10
OFF_LOOP_CHARS = 200_000  # count bigger inputs in a worker thread, off the event loop


CACHED_MIN_CHARS = 512
CACHE_ENTRIES = 8192
# Counts of long texts by (hash, length): a conversation re-sends its system prompt, tool results and earlier
# turns on every step, and each chat of an agent starts from the same prompt. Keyed by hash rather than by the
# text so the cache never keeps a conversation's text alive; a collision of both would only skew an estimate.
_TEXT_COUNTS: dict[tuple[int, int], int] = {}


def count_text(text: str) -> int:
    if len(text) < CACHED_MIN_CHARS:
        return _count(text)
    key = (hash(text), len(text))
    cached = _TEXT_COUNTS.get(key)
    if cached is None:
        if len(_TEXT_COUNTS) >= CACHE_ENTRIES:
            _TEXT_COUNTS.clear()
        cached = _TEXT_COUNTS[key] = _count(text)
    return cached


def _count(text: str) -> int:
    tokens = 0
    for piece in PIECES.findall(text):
        first = piece[0]
        if first.isspace():
            tokens += piece.count("\n") if "\n" in piece else (1 if len(piece) > 1 else 0)
        elif first.isascii() and first.isalpha():
            tokens += math.ceil(len(piece) / 4)
        elif first.isdigit():
            tokens += math.ceil(len(piece) / 3)
        else:
            tokens += 1 if first.isascii() else len(piece.encode()) // 2 or 1
    return tokens


def count_message(message: Message) -> int:
    tokens = MESSAGE_OVERHEAD
    for part in message.parts:
        if isinstance(part, TextPart | ThinkingPart):
            tokens += count_text(part.text)
        elif isinstance(part, ImagePart):
            tokens += IMAGE_TOKENS
        elif isinstance(part, ToolCallPart):
            tokens += count_text(part.name) + count_text(json.dumps(part.arguments)) + TOOL_OVERHEAD
        elif isinstance(part, ToolResultPart):
            tokens += TOOL_OVERHEAD + sum(
                IMAGE_TOKENS if isinstance(c, ImagePart) else count_text(c.text) for c in part.content
            )
    return tokens


def count_tool(name: str, description: str, schema: dict) -> int:
    """Tool definitions repeat on every call of a conversation: a long one is counted once (count_text)."""
    return count_text(name + description + json.dumps(schema, sort_keys=True)) + TOOL_OVERHEAD


def count_request(request: LLMRequest) -> int:
    tools = sum(count_tool(t.name, t.description, t.input_schema) for t in request.tools)
    return tools + sum(count_message(m) for m in request.messages)


async def estimate_request(request: LLMRequest) -> int:
    size = sum(len(p.text) for m in request.messages for p in m.parts if isinstance(p, TextPart))
    if size > OFF_LOOP_CHARS:
        return await asyncio.to_thread(count_request, request)
    return count_request(request)
