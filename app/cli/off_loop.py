"""Blocking work of a CLI (a prompt, a shell command) run beside the event loop, so the loop keeps serving
its sockets meanwhile (WebSocket keep-alive pings go unanswered while the loop is blocked).

Daemon threads rather than `asyncio.to_thread`: a thread waiting in `input()` cannot be interrupted, and the
default executor would make Ctrl-C wait for the user to press Enter before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_running: set[threading.Thread] = set()


async def off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a daemon thread; its result or exception, awaited without blocking the loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled (Ctrl-C)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, error = function(*args, **kwargs), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, whatever it is
            result, error = None, exc
        finally:
            _running.discard(threading.current_thread())
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, error)

    thread = threading.Thread(target=work, name=f"off-loop-{getattr(function, '__name__', 'call')}", daemon=True)
    _running.add(thread)
    thread.start()
    return await future


def exit_now_if_blocked(code: int) -> None:
    """End the process at once when a thread still waits for input: CPython aborts at shutdown ("could not
    acquire lock for <stdin>") when a daemon thread holds stdin's buffer, as it does reading from a pipe."""
    if any(thread.is_alive() for thread in _running):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
