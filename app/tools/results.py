"""Turning what clients send back from tools into compact, bounded, model-visible text (docs/protocol.md §7.3).

Known shapes are formatted (chunks as `path:start-end` with numbered lines); failures become error text
carrying `error_message`; every result is capped at a token budget with an explicit truncation marker.
The raw response is stored untouched for history; only the model sees this text.
"""

from __future__ import annotations

import json
from typing import Any

from app.llm.tokens import count_text

DEFAULT_BUDGET_TOKENS = 20_000
WRAPPER_KEYS = ("file_path_search", "batch_chunks_search", "relevant_code_snippets", "execute_command_result", "result")


def chunk_text(chunk: Any) -> str:
    """ChunkInfo (§7.4) as `path:start-end` followed by its numbered lines."""
    if not isinstance(chunk, dict):
        return str(chunk)
    source = chunk.get("source_details") or {}
    path = source.get("file_path", "?")
    start, end = source.get("start_line"), source.get("end_line")
    content = str(chunk.get("content", ""))
    header = f"{path}:{start}-{end}" if start is not None and end is not None else str(path)
    if chunk.get("has_embedded_lines") or not isinstance(start, int):
        return f"{header}\n{content}"
    numbered = "\n".join(f"{start + i:>5}  {line}" for i, line in enumerate(content.splitlines()))
    return f"{header}\n{numbered}"


def error_message(response: Any) -> str:
    """The `error_message` of an error object, also when wrapped under the tool's own key."""
    if isinstance(response, dict):
        if "error_message" in response:
            return str(response["error_message"])
        for key in WRAPPER_KEYS:
            inner = response.get(key)
            if isinstance(inner, dict) and "error_message" in inner:
                return str(inner["error_message"])
    return json.dumps(response, ensure_ascii=False)[:2000]


def format_result(tool_name: str, response: Any, status: str) -> str:
    if status == "ABORTED":
        return "The tool call was aborted; there is no result."
    if status == "FAILED":
        return f"ERROR: {error_message(response)}"
    try:
        return _format_completed(tool_name, response)
    except (AttributeError, KeyError, TypeError, ValueError):
        return json.dumps(response, ensure_ascii=False)


def _format_completed(tool_name: str, response: Any) -> str:
    if not isinstance(response, dict):
        return json.dumps(response, ensure_ascii=False)
    if tool_name == "iterative_file_reader" and isinstance(response.get("data"), dict):
        data = response["data"]
        note = " (summary)" if data.get("was_summary") else ""
        tail = "end of file" if data.get("eof_reached") else f"file has {data.get('total_lines', '?')} lines"
        return f"{chunk_text(data.get('chunk'))}\n[{tail}{note}]"
    if tool_name == "grep_search" and isinstance(response.get("data"), list):
        if not response["data"]:
            return f"No matches for {response.get('search_term', 'the query')!r}."
        parts = []
        for match in response["data"]:
            lines = match.get("matched_line", match.get("matched_lines"))
            parts.append(f"matched line(s) {lines}:\n{chunk_text(match.get('chunk_info'))}")
        return "\n\n".join(parts)
    if tool_name == "file_path_searcher" and isinstance(response.get("file_path_search"), dict):
        return "\n".join(str(p) for p in response["file_path_search"].get("data", [])) or "No files found."
    if tool_name == "focused_snippets_searcher" and "batch_chunks_search" in response:
        batch = response["batch_chunks_search"]
        items = batch.get("response", []) if isinstance(batch, dict) else batch  # both shapes (§11 #16)
        parts = []
        for item in items or []:
            chunks = "\n\n".join(chunk_text(c) for c in item.get("chunks", []))
            parts.append(f"{item.get('type', 'symbol')} {item.get('keyword')}:\n{chunks or '(not found)'}")
        return "\n\n".join(parts) or "No definitions found."
    if tool_name == "semantic_search" and isinstance(response.get("relevant_code_snippets"), list):
        return "\n\n".join(chunk_text(c) for c in response["relevant_code_snippets"]) or "Nothing relevant found."
    if tool_name == "execute_command" and "execute_command_result" in response:
        return str(response["execute_command_result"])
    if tool_name == "ask_user_input" and "user_response" in response:
        return f"The user answered: {response['user_response']}"
    if tool_name in ("replace_in_file", "write_to_file") and isinstance(response.get("result"), dict):
        result = response["result"]
        return (
            f"{result.get('status', 'done')}: +{result.get('addedLines', 0)} -{result.get('removedLines', 0)} lines. "
            f"{result.get('llmNextStep', '')}"
        ).strip()
    return json.dumps(response, ensure_ascii=False)


def cap(text: str, budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> str:
    """Cut text to about `budget_tokens`, saying how much was cut."""
    if count_text(text) <= budget_tokens:
        return text
    keep = max(int(len(text) * budget_tokens / max(count_text(text), 1)), 0)
    return text[:keep] + f"\n[... truncated: {len(text) - keep} more characters were not shown ...]"
