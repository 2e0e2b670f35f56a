"""Closing a connection must end it: in py-libp2p 0.8.1 a close that is cancelled leaves a zombie for ever.

Defect: ``SwarmConn.close`` (``libp2p/network/connection/swarm_connection.py``) first sets ``event_closed``, then
awaits ``Yamux.close``, which writes a GO_AWAY frame under the connection's write lock and closes the secure
session; only then does ``_cleanup`` remove the connection from the swarm and notify the disconnection. Over a
partitioned link (packets dropped, not refused) a gossip write already blocked on a full TCP send buffer holds the
write lock, so the close waits for as long as the partition lasts. A caller that bounds the close (we give it
1 s) cancels it after ``event_closed`` is set: every later ``close()`` returns at once, the connection stays in
``swarm.connections``, ``get_connections(peer)`` keeps answering it, and no disconnection is ever notified. The
node then believes the peer connected and never redials it: found by the network lab (a validator cut off for
longer than the ping window, ~15 s, stayed disconnected from all its static peers after heal). No upstream issue
reports it (searched the py-libp2p tracker for the close path and zombie connections).

The same blocked write holds up requests over that link: ``BasicHost.new_stream`` (``libp2p/host/basic_host.py``)
resets a stream whose negotiation failed inside a shielded scope with no deadline, so a request cancelled at its
timeout returns only when the connection is closed. ``peers.py`` therefore never waits for a ping (it counts one
still in flight past its timeout as missed) and closes the connection, which frees the request.

Here, when the graceful close does not finish within its grace, the connection's socket is closed under it (the
blocked write fails, releasing the lock), the library's own clean-up runs (swarm record, stream resets,
disconnection notified), and as a last resort the swarm forgets the connection, so a redial can start.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

log = logging.getLogger(__name__)

# Attribute path from a SwarmConn down to the TCP stream: muxer -> secure session -> packet reader -> raw conn.
_LINKS = ("muxed_conn", "secured_conn", "conn", "read_writer", "raw_connection", "stream", "_stream")


def find_socket_stream(conn: Any, depth: int = 8) -> trio.SocketStream | None:
    """The trio socket stream under a libp2p connection, found by walking its wrappers (or None)."""
    seen: set[int] = set()
    frontier = [conn]
    for _ in range(depth):
        next_frontier: list[Any] = []
        for obj in frontier:
            if isinstance(obj, trio.SocketStream):
                return obj
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            next_frontier.extend(
                getattr(obj, name) for name in _LINKS if getattr(obj, name, None) is not None
            )
        frontier = next_frontier
    return None


async def close_connections(host: Any, peer: Any, grace_s: float) -> int:
    """Close every connection to ``peer``: gracefully within ``grace_s``, else by force. Returns how many were
    forced."""
    with trio.move_on_after(grace_s):
        await host.disconnect(peer)
    network = host.get_network()
    stuck = list(network.get_connections(peer))
    for conn in stuck:
        stream = find_socket_stream(conn)
        if stream is not None:
            stream.socket.close()  # a write blocked on it raises at once and releases the muxer's lock
    for conn in stuck:
        with trio.move_on_after(grace_s):
            await conn._cleanup()  # the library's own: swarm record, stream resets, disconnection notified
    for conn in list(network.get_connections(peer)):
        network.remove_conn(conn)  # never leave a record that stops the redial
    if stuck:
        log.warning("event=p2p_close_forced peer=%s connections=%d", peer.to_base58(), len(stuck))
    return len(stuck)
