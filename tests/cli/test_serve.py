"""The product as a user runs it: `adjutant token create`, `adjutant serve` on a fresh data dir, commands
side by side, restart, and a clean shutdown that stops the embedded servers."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from app.runtime.processes import free_port
from tests.conftest import CLIENT_HEADERS, SERVICE_DIR_VARIABLE

READY_WITHIN_S = 30


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADJUTANT_") or k == SERVICE_DIR_VARIABLE}
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SENTRY_DSN",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
    ):
        env.pop(name, None)
    env["ADJUTANT_LOGGING__FORMAT"] = "json"
    env["XDG_DATA_HOME"] = str(data_dir.parent / "xdg")  # never touch the real user's default data dir
    # Longer than any command here takes: a revocation must reach the server's cache by message, not by expiry.
    env["ADJUTANT_AUTH__TOKEN_CACHE_S"] = "60"
    return env


def adjutant(*args: str, data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args, "--data-dir", str(data_dir)],
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_serve(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    while time.monotonic() - started < READY_WITHIN_S:
        if process.poll() is not None:
            pytest.fail(f"serve exited early:\n{process.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).json() == {"ping": "pong"}:
                return process, time.monotonic() - started
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"serve not ready within {READY_WITHIN_S} s:\n{process.stdout.read()}")


def embedded_pids(data_dir: Path) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            # As root, a cluster out of the service user's reach lives under the (per-run) service dir.
            relocated = f"{os.environ.get(SERVICE_DIR_VARIABLE, chr(0))}/clusters/" in cmdline
            if (proc.info["name"] == "postgres" and (str(data_dir) in cmdline or relocated)) or (
                "redis-server" in (proc.info["name"] or "") and proc.info["cwd"] == str(data_dir / "redis")
            ):
                pids.append(proc.pid)
        except psutil.Error:
            continue
    return pids


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, output
    return output


def test_fresh_machine_flow_serve_token_restart_and_clean_shutdown(tmp_path: Path):
    data_dir = tmp_path / "adjutant-data"
    created = adjutant("token", "create", "--email", "ada@example.com", "--team", "core", data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("adj_") and len(token.splitlines()) == 1, "stdout carries the token and nothing else"
    assert token not in created.stderr
    assert not embedded_pids(data_dir), "a one-off command stops the servers it started"

    port = free_port()
    server, ready_after = start_serve(data_dir, port)
    try:
        assert ready_after < READY_WITHIN_S
        base = f"http://127.0.0.1:{port}"
        essential = httpx.get(
            f"{base}/end_user/v1/configs/get-essential-configs",
            headers=CLIENT_HEADERS,
            params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
        ).json()
        assert essential["is_success"] is True and essential["data"]["HOST_AND_TIMEOUT"]["HOST"] == base
        # The token was created before this server process existed: it still verifies.
        verified = httpx.post(
            f"{base}/end_user/v1/auth/verify-auth-token",
            json={},
            headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}"},
        ).json()
        assert verified["data"]["status"] == "VERIFIED"
        assert httpx.get(f"{base}/health").json()["status"] == "ok"

        # A second command runs side by side on the same data dir and shares the running servers.
        side = adjutant("migrate", "--status", data_dir=data_dir)
        assert side.returncode == 0 and "pending: none" in side.stdout, side.stderr
        second = adjutant("token", "create", "--email", "bob@example.com", "--team", "core", data_dir=data_dir)
        assert second.returncode == 0, second.stderr
        assert (
            httpx.post(
                f"{base}/end_user/v1/auth/verify-auth-token",
                json={},
                headers={**CLIENT_HEADERS, "Authorization": f"Bearer {second.stdout.strip()}"},
            ).json()["data"]["status"]
            == "VERIFIED"
        )
        assert embedded_pids(data_dir), "the side command must not stop servers that serve still uses"
    finally:
        output = stop(server)
    assert "Adjutant listening on" in output and str(data_dir) in output
    assert token not in output
    deadline = time.monotonic() + 15
    while embedded_pids(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not embedded_pids(data_dir), "serve must stop the embedded servers it started"

    # Restart: everything persisted.
    server, _ = start_serve(data_dir, port)
    try:
        listed = adjutant("token", "list", data_dir=data_dir)
        assert "ada@example.com" in listed.stdout and "bob@example.com" in listed.stdout
        assert token not in listed.stdout
        used = httpx.post(
            f"http://127.0.0.1:{port}/end_user/v1/auth/verify-auth-token",
            json={},
            headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}"},
        ).json()
        assert used["data"]["status"] == "VERIFIED"  # and now in the server's token cache
        # The CLI is another process: its revocation must reach the server's cache at once, not in seconds.
        revoked = adjutant("token", "revoke", "--email", "ada@example.com", data_dir=data_dir)
        assert revoked.returncode == 0 and "revoked 1 token" in revoked.stdout
        after = httpx.post(
            f"http://127.0.0.1:{port}/end_user/v1/auth/verify-auth-token",
            json={},
            headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}"},
        ).json()
        assert after["data"]["status"] == "NOT_VERIFIED"
    finally:
        stop(server)


def test_cli_reports_bad_input_in_one_line(tmp_path: Path):
    result = adjutant("token", "create", "--email", "not-an-email", "--team", "core", data_dir=tmp_path / "d")
    assert result.returncode != 0
    assert "not an email address" in result.stderr and "Traceback" not in result.stderr


def test_with_embedded_servers_disabled_a_missing_url_is_a_clear_error(tmp_path: Path):
    env = {**cli_env(tmp_path / "d"), "ADJUTANT_EMBEDDED__ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "DATABASE_URL must be set" in result.stderr
    assert not (tmp_path / "xdg").exists(), "nothing is created in the default data dir when the config is refused"


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="needs the `local` extra (uv sync --extra local)"
)
def test_with_no_provider_keys_serve_answers_with_the_local_model(tmp_path: Path):
    data_dir = tmp_path / "data"
    token = adjutant("token", "create", "--email", "a@example.com", "--team", "t", data_dir=data_dir).stdout.strip()
    port = free_port()
    server, _ = start_serve(data_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        models = httpx.get(f"{base}/v1/llm/models", headers={"Authorization": f"Bearer {token}"}).json()["data"]
        assert models["default"] == "local-smollm2"
        essential = httpx.get(
            f"{base}/end_user/v1/configs/get-essential-configs",
            headers=CLIENT_HEADERS,
            params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
        ).json()["data"]
        assert [m["name"] for m in essential["LLM_MODELS"]] == ["local-smollm2"]
        response = httpx.post(
            f"{base}/v1/llm/stream",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
            json={"messages": [{"role": "user", "content": "Say hello."}], "max_output_tokens": 16},
        )
        assert response.status_code == 200
        text = "".join(
            json.loads(line[6:]).get("text", "")
            for line in response.text.splitlines()
            if line.startswith("data: ") and '"text_delta"' in line
        )
        assert text.strip()
        assert "event: finish" in response.text
    finally:
        stop(server)
