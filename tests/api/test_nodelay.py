"""Every client connection sends small frames at once (TCP_NODELAY), whatever event loop the server runs on.

The test servers run on plain asyncio, which leaves Nagle's algorithm on for Sanic's sockets: without the
middleware these options read 0 and a chat's first delta waited for the client's delayed ACK."""

from __future__ import annotations

import socket

from websockets.asyncio.client import connect

from tests.conftest import CLIENT_HEADERS

SOCKET = "/end_user/v2/code-gen/generate-code-ws"


def server_side_nodelay(service) -> list[int]:
    options = []
    for protocol in service.server.connections:
        sock = protocol.transport.get_extra_info("socket")
        options.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return options


async def test_http_and_websocket_connections_have_nagle_off(service, issue_token):
    token = await issue_token()
    response = await service.request("GET", "/ping")
    assert response.status_code == 200
    async with connect(
        service.base_url.replace("http://", "ws://") + SOCKET,
        additional_headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}"},
        open_timeout=10,
    ):
        options = server_side_nodelay(service)
        # The keep-alive HTTP connection and the socket: both open, both without Nagle.
        assert len(options) == 2 and all(options), options
