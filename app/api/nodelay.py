"""Small frames leave at once: TCP_NODELAY on every client connection.

uvloop (what `adjutant serve` runs on) sets it on each accepted socket; plain asyncio only does when the
socket's protocol number says TCP, and Sanic's listening sockets are created with protocol 0, so on asyncio
(the test servers, a platform without uvloop) Nagle's algorithm holds a small frame while an earlier one is
unacknowledged: with the client's delayed ACK, a chat's first TEXT_DELTA arrived ~40 ms late
(bench/intake.py: 45 ms added to the first token, 9 ms of it ours).
"""

from __future__ import annotations

import contextlib
import socket

from sanic import Request, Sanic

TCP_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


def no_delay(request: Request) -> None:
    """Once per connection (keep-alive requests and a WebSocket upgrade share it): one setsockopt."""
    info = request.conn_info
    if info is None or getattr(info.ctx, "nodelay", False):
        return
    info.ctx.nodelay = True
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in TCP_FAMILIES:
        with contextlib.suppress(OSError):  # the client may already be gone
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def install(app: Sanic) -> None:
    app.register_middleware(no_delay, "request", priority=1000)
