"""A bounded thread pool for the clients built on blocking libraries (jira, atlassian-python-api).

Their calls never run on the event loop: each goes to this pool, which has a fixed number of threads, so a
slow Jira cannot take every thread of the process (the default executor is shared with DNS lookups and
file I/O). A call waiting for a thread is still bounded by its caller's timeout.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class BlockingPool:
    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="integration")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
