"""IPv6 TCP streams report their peer's (host, port) like IPv4 ones (py-libp2p 0.8.1 reports none)."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing
from libp2p.io.trio import TrioTCPStream

from node.net.p2p.workarounds.ipv6_remote_addr import report_ipv6_remote_addresses


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",
        pytest.param("::1", marks=pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback")),
    ],
)
async def test_remote_address_of_ipv4_and_ipv6_streams(host: str) -> None:
    report_ipv6_remote_addresses()
    listeners = await trio.open_tcp_listeners(0, host=host)
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        accepted: list[trio.SocketStream] = []

        async def accept_one() -> None:
            accepted.append(await listeners[0].accept())

        nursery.start_soon(accept_one)
        client = await trio.open_tcp_stream(host, port)
        await trio.testing.wait_all_tasks_blocked()
        stream = TrioTCPStream(client)
        assert stream.get_remote_address() == (host, port)
        assert stream.get_remote_address() == (host, port)  # cached
        await client.aclose()
        for s in accepted:
            await s.aclose()
    for listener in listeners:
        await listener.aclose()
