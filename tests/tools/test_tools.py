"""Client tool catalogue gating, MCP safety, argument validation and result formatting."""

from __future__ import annotations

from app.tools.client_tools import (
    BY_NAME,
    ClientTool,
    OfferedTool,
    ToolFlags,
    first_party_tools,
    mcp_tools,
    validate_arguments,
)
from app.tools.results import cap, format_result


def names(tools) -> set[str]:
    return {t.spec.name for t in tools}


def test_tools_are_offered_by_flags():
    base = names(first_party_tools(ToolFlags()))
    assert base == {
        "iterative_file_reader",
        "grep_search",
        "file_path_searcher",
        "execute_command",
        "public_url_content_reader",
        "ask_user_input",
        "create_new_workspace",
    }
    everything = names(
        first_party_tools(
            ToolFlags(
                write_mode=True, search_web=True, is_indexing_ready=True, is_embeddings_ready=True, is_lsp_ready=True
            )
        )
    )
    assert everything - base == {
        "replace_in_file",
        "write_to_file",
        "web_search",
        "focused_snippets_searcher",
        "semantic_search",
        "get_usage_tool",
        "resolve_import_tool",
    }
    off = ToolFlags(is_embeddings_ready=True, semantic_search_enabled=False)
    assert "semantic_search" not in names(first_party_tools(off))


def test_mcp_tools_are_bounded_and_never_shadow_ours():
    offered = mcp_tools(
        [
            ClientTool(name="grep_search", description="shadow", input_schema={"type": "object"}),
            ClientTool(name="bad name!", input_schema={"type": "object"}),
            ClientTool(
                name="jira_lookup",
                description="d" * 5000,
                input_schema={"type": "object", "properties": {}},
                tool_metadata={"server_id": "jira"},
            ),
            ClientTool(
                name="huge",
                input_schema={"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(2000)}},
            ),
        ],
        taken={"grep_search"},
    )
    assert names(offered) == {"jira_lookup"}
    description = offered[0].spec.description
    assert description.startswith("[External MCP tool 'jira'") and len(description) <= 1024


def test_arguments_are_checked_against_the_schema():
    reader = OfferedTool(BY_NAME["iterative_file_reader"].spec(), "client", BY_NAME["iterative_file_reader"].model)
    assert validate_arguments(reader, {"file_path": "a", "repo_path": "/r"}) is None
    assert "repo_path" in validate_arguments(reader, {"file_path": "a"})
    assert validate_arguments(reader, {"file_path": "a", "repo_path": "/r", "start_line": 0}) is not None


def test_results_are_formatted_compactly():
    chunk = {"content": "a = 1\nb = 2", "source_details": {"file_path": "x.py", "start_line": 10, "end_line": 11}}
    text = format_result("iterative_file_reader", {"data": {"chunk": chunk, "eof_reached": True}}, "COMPLETED")
    assert text.startswith("x.py:10-11\n   10  a = 1\n   11  b = 2")
    wrapped = {"batch_chunks_search": {"response": [{"keyword": "f", "type": "function", "chunks": [chunk]}]}}
    bare = {"batch_chunks_search": [{"keyword": "f", "type": "function", "chunks": [chunk]}]}
    assert format_result("focused_snippets_searcher", wrapped, "COMPLETED") == format_result(
        "focused_snippets_searcher", bare, "COMPLETED"
    )
    failed = {"file_path_search": {"error_code": 500, "error_type": "SERVER_ERROR", "error_message": "disk gone"}}
    assert format_result("file_path_searcher", failed, "FAILED") == "ERROR: disk gone"
    assert format_result("grep_search", {"data": [], "search_term": "x"}, "COMPLETED") == "No matches for 'x'."


def test_long_results_are_cut_with_a_marker():
    text = cap("word " * 50_000, budget_tokens=1000)
    assert len(text) < 10_000 and "truncated" in text
