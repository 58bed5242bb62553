"""The client-side tools of `adjutant chat`: what the IDE would do, on the local working copy.

Paths are resolved inside the repository only; commands and file writes ask for approval unless the
user passed --yes. Responses have the shapes the reference client sends (docs/protocol.md §7.2).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", ".mypy_cache", ".ruff_cache"}
MAX_READ_LINES = 1000
MAX_MATCHES = 100
COMMAND_TIMEOUT_S = 120
SEARCH_BLOCK = re.compile(r"-{3,} SEARCH\n(.*?)\n={3,}\n(.*?)\n\+{3,} REPLACE", re.S)

Confirm = Callable[[str], bool]
Ask = Callable[[str], str]


class ToolFailure(Exception):
    pass


def kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def failure(message: str) -> dict[str, Any]:
    return {"error_code": 500, "error_type": "SERVER_ERROR", "error_message": message}


class WorkspaceTools:
    def __init__(
        self,
        repo: Path,
        confirm: Confirm,
        ask: Ask,
        show: Callable[[str], None],
        *,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.repo = repo.resolve()
        self.confirm = confirm
        self.ask = ask
        self.show = show
        self.command_timeout_s = command_timeout_s

    def run(self, name: str, args: dict[str, Any]) -> tuple[Any, str | None]:
        """(response, status): status None for ask_user_input, as the reference client sends it."""
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return failure(f"Unknown tool requested: {name}"), "FAILED"
        try:
            result = handler(args)
        except ToolFailure as exc:
            return self._wrap(name, failure(str(exc))), "FAILED"
        except OSError as exc:
            return self._wrap(name, failure(f"{exc.__class__.__name__}: {exc}")), "FAILED"
        return result, (None if name == "ask_user_input" else "COMPLETED")

    @staticmethod
    def _wrap(name: str, error: dict[str, Any]) -> Any:
        key = {
            "file_path_searcher": "file_path_search",
            "execute_command": "execute_command_result",
            "replace_in_file": "result",
            "write_to_file": "result",
        }.get(name)
        return {key: error} if key else error

    def _path(self, relative: str) -> Path:
        path = (self.repo / relative).resolve()
        if path != self.repo and self.repo not in path.parents:
            raise ToolFailure(f"{relative} is outside the repository")
        return path

    def _chunk(self, path: Path, start: int, lines: list[str]) -> dict[str, Any]:
        return {
            "content": "\n".join(lines),
            "has_embedded_lines": False,
            "source_details": {
                "file_path": str(path.relative_to(self.repo)),
                "file_hash": None,
                "start_line": start,
                "end_line": start + max(len(lines) - 1, 0),
            },
        }

    def _iterative_file_reader(self, args: dict[str, Any]) -> dict[str, Any]:
        path = self._path(args["file_path"])
        if not path.is_file():
            raise ToolFailure(f"no such file: {args['file_path']}")
        lines = path.read_text(errors="replace").splitlines()
        start = max(int(args.get("start_line") or 1), 1)
        end = min(int(args.get("end_line") or start + MAX_READ_LINES - 1), start + MAX_READ_LINES - 1, len(lines))
        return {
            "data": {
                "chunk": self._chunk(path, start, lines[start - 1 : end]),
                "eof_reached": end >= len(lines),
                "was_summary": False,
                "total_lines": len(lines),
            }
        }

    def _files(self, root: Path):
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS]
            for name in files:
                yield Path(directory) / name

    def _grep_search(self, args: dict[str, Any]) -> dict[str, Any]:
        flags = re.IGNORECASE if args.get("case_insensitive") else 0
        query = args["query"] if args.get("use_regex") else re.escape(args["query"])
        try:
            pattern = re.compile(query, flags)
        except re.error as exc:
            raise ToolFailure(f"invalid regular expression: {exc}") from None
        matches = []
        for path in self._files(self._path(args.get("search_path") or ".")):
            try:
                lines = path.read_text(errors="strict").splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(lines, 1):
                if pattern.search(line):
                    matches.append({"chunk_info": self._chunk(path, number, [line]), "matched_line": number})
                    if len(matches) >= MAX_MATCHES:
                        break
            if len(matches) >= MAX_MATCHES:
                break
        return {
            "data": matches,
            "search_term": args["query"],
            "directory_path": args.get("search_path"),
            "case_insensitive": bool(args.get("case_insensitive")),
            "use_regex": bool(args.get("use_regex")),
        }

    def _file_path_searcher(self, args: dict[str, Any]) -> dict[str, Any]:
        terms = [t.lower() for t in args.get("search_terms") or []]
        found = [
            str(p.relative_to(self.repo))
            for p in self._files(self._path(args.get("directory") or "."))
            if not terms or any(t in p.name.lower() for t in terms)
        ]
        listed = sorted(found)[:100]
        if len(found) > 100:
            listed.append(f"... and {len(found) - 100} more")
        return {"file_path_search": {"data": listed}}

    def _execute_command(self, args: dict[str, Any]) -> dict[str, Any]:
        command = args["command"]
        if not self.confirm(f"Run `{command}` in {self.repo}?"):
            return {"execute_command_result": "The user declined to run this command."}
        # No stdin: a command waiting for input would steal the user's keystrokes from our prompts.
        process = subprocess.Popen(  # noqa: S602 - a shell command the user approved, like a terminal
            command,
            shell=True,
            cwd=self.repo,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        try:
            stdout, stderr = process.communicate(timeout=self.command_timeout_s)
        except subprocess.TimeoutExpired:
            # The shell's children too: a pipeline or background job would keep the pipes open and the
            # tool waiting long after the timeout.
            kill_tree(process.pid)
            process.communicate()
            return {"execute_command_result": f"Timed out after {self.command_timeout_s:g} s."}
        output = (stdout + stderr)[-20_000:]
        return {"execute_command_result": f"exit code {process.returncode}\n{output}"}

    def _write(self, relative: str, new: str) -> dict[str, Any]:
        path = self._path(relative)
        old = path.read_text(errors="replace") if path.exists() else ""
        diff = list(
            difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{relative}", f"b/{relative}", lineterm="")
        )
        self.show("\n".join(diff) or "(no change)")
        if not self.confirm(f"Apply this change to {relative}?"):
            return {
                "result": {
                    "llmNextStep": "The user rejected the change.",
                    "status": "rejected",
                    "addedLines": 0,
                    "removedLines": 0,
                }
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new)
        added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        return {
            "result": {
                "llmNextStep": "The change was applied.",
                "status": "completed",
                "addedLines": added,
                "removedLines": removed,
            }
        }

    def _replace_in_file(self, args: dict[str, Any]) -> dict[str, Any]:
        path = self._path(args["path"])
        if not path.is_file():
            raise ToolFailure(f"no such file: {args['path']}")
        content = path.read_text()
        blocks = SEARCH_BLOCK.findall(args["diff"])
        if not blocks:
            raise ToolFailure("no SEARCH/REPLACE blocks found")
        for search, replace in blocks:
            if search not in content:
                raise ToolFailure(f"SEARCH text not found in {args['path']}: {search[:200]!r}")
            content = content.replace(search, replace, 1)
        return self._write(args["path"], content)

    def _write_to_file(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._write(args["path"], args["diff"])

    def _ask_user_input(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user_response": self.ask(str(args.get("prompt", "")))}
