"""A close that cannot finish (its link dropped, a write blocked) still ends the connection, so a redial can start."""

from __future__ import annotations

from typing import Any

import multiaddr
import trio
from libp2p.peer.peerinfo import PeerInfo

from node.net import NetConfig
from node.net.p2p.host import build_host, key_pair
from node.net.p2p.workarounds.stuck_close import close_connections, find_socket_stream
from tests.net.net_helpers import free_port


def _host(n: int, port: int) -> Any:
    return build_host(NetConfig(listen=f"/ip4/127.0.0.1/tcp/{port}"), key_pair(bytes([n]) * 32))


def _block_writes_until_socket_closes(conn: Any) -> None:
    """Every write on ``conn`` now waits like one on a full send buffer over a dropped link: it ends only when
    the socket is closed under it."""
    stream = find_socket_stream(conn)
    assert stream is not None, "the TCP stream under a libp2p connection is found"
    secured = conn.muxed_conn.secured_conn

    async def stuck_write(data: bytes) -> None:
        while stream.socket.fileno() != -1:
            await trio.sleep(0.01)
        raise trio.ClosedResourceError("socket closed")

    secured.write = stuck_write


async def _connected_pair(nursery: trio.Nursery) -> tuple[Any, Any, PeerInfo]:
    port_a, port_b = free_port(), free_port()
    a, b = _host(71, port_a), _host(72, port_b)
    ready = trio.Event()

    async def run(host: Any, port: int) -> None:
        async with host.run(listen_addrs=[multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")]):
            await host.get_network().auto_connector.stop()  # as a Network does: only we dial
            ready.set()
            await trio.sleep_forever()

    nursery.start_soon(run, b, port_b)
    await ready.wait()
    nursery.start_soon(run, a, port_a)
    info_b = PeerInfo(b.get_id(), [multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port_b}")])
    with trio.fail_after(10):
        await a.connect(info_b)
    return a, b, info_b


async def test_the_library_close_cancelled_mid_way_leaves_a_zombie_connection(nursery: trio.Nursery) -> None:
    a, _b, info_b = await _connected_pair(nursery)
    [conn] = a.get_network().get_connections(info_b.peer_id)
    _block_writes_until_socket_closes(conn)
    with trio.move_on_after(0.5):
        await a.disconnect(info_b.peer_id)
    # Marked closed, yet still the swarm's connection to B: is_connected() says yes, so nobody redials, and every
    # later close() returns at once because the mark is set.
    assert conn.event_closed.is_set()
    assert conn in a.get_network().get_connections(info_b.peer_id)
    find_socket_stream(conn).socket.close()  # type: ignore[union-attr]  # let the fixture end cleanly


async def test_a_stuck_close_is_forced_and_the_peer_can_be_dialed_again(nursery: trio.Nursery) -> None:
    a, _b, info_b = await _connected_pair(nursery)
    [conn] = a.get_network().get_connections(info_b.peer_id)
    _block_writes_until_socket_closes(conn)
    with trio.fail_after(5):
        forced = await close_connections(a, info_b.peer_id, grace_s=0.5)
    assert forced >= 1  # the library may list a duplicate wrapper of the same muxed connection beside it
    assert a.get_network().get_connections(info_b.peer_id) == []
    with trio.fail_after(10):
        await a.connect(info_b)
    assert len(a.get_network().get_connections(info_b.peer_id)) == 1


async def test_a_healthy_close_is_not_forced(nursery: trio.Nursery) -> None:
    a, _b, info_b = await _connected_pair(nursery)
    with trio.fail_after(5):
        assert await close_connections(a, info_b.peer_id, grace_s=2.0) == 0
    assert a.get_network().get_connections(info_b.peer_id) == []
