"""The command tool of `adjutant chat`: approval first, bounded in time, and nothing left running."""

from __future__ import annotations

import time

import psutil

from app.cli.workspace_tools import WorkspaceTools

ARGS = {"requires_approval": True, "is_long_running": False}


def tools(repo, *, approve: bool = True, timeout_s: float = 5) -> WorkspaceTools:
    return WorkspaceTools(
        repo, confirm=lambda _: approve, ask=lambda _: "", show=lambda _: None, command_timeout_s=timeout_s
    )


def test_a_command_runs_in_the_repository_and_reports_its_exit_code_and_output(tmp_path):
    (tmp_path / "marker.txt").write_text("here")
    response, status = tools(tmp_path).run("execute_command", {"command": "cat marker.txt; exit 3", **ARGS})
    assert status == "COMPLETED"
    assert response == {"execute_command_result": "exit code 3\nhere"}


def test_a_declined_command_does_not_run(tmp_path):
    response, _ = tools(tmp_path, approve=False).run("execute_command", {"command": "touch ran", **ARGS})
    assert response == {"execute_command_result": "The user declined to run this command."}
    assert not (tmp_path / "ran").exists()


def test_a_timed_out_pipeline_is_killed_with_its_children(tmp_path):
    # `sleep` and `cat` outlive a killed shell and hold its output pipe: waiting for them would take 30 s.
    started = time.monotonic()
    response, _ = tools(tmp_path, timeout_s=1).run("execute_command", {"command": "sleep 30 | cat", **ARGS})
    assert response == {"execute_command_result": "Timed out after 1 s."}
    assert time.monotonic() - started < 10
    leftovers = [p for p in psutil.process_iter(["cmdline", "cwd"]) if p.info["cwd"] == str(tmp_path.resolve())]
    assert leftovers == []
