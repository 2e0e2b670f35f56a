"""The far end of an IPv6 TCP connection: py-libp2p 0.8.1 reports none.

Defect: ``TrioTCPStream.get_remote_address`` (``libp2p/io/trio.py``) accepts only a 2-tuple from
``socket.getpeername()``; an IPv6 socket answers ``(host, port, flowinfo, scope_id)``, so every IPv6 connection has
no remote address: ``conn.get_transport_addresses()`` is empty and ``admin_peers`` shows no ``remote_addr``. (The
connection itself works.) No py-libp2p issue reports it (searched its tracker).

The method is replaced by one that keeps the first two fields of either shape.
"""

from __future__ import annotations

from typing import Any

from libp2p.io.trio import TrioTCPStream


def _remote_address(self: Any) -> tuple[str, int] | None:
    """(host, port) of the peer of an IPv4 or IPv6 TCP stream; None once the socket is gone."""
    if self._cached_remote_address is not None:
        return tuple(self._cached_remote_address)
    try:
        peer = self.stream.socket.getpeername()
    except (AttributeError, OSError):  # closed or not a socket stream, as the library treats it
        return None
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    result = (str(peer[0]), int(peer[1]))
    self._cached_remote_address = result
    return result


def report_ipv6_remote_addresses() -> None:
    """Make every ``TrioTCPStream`` report IPv6 peers' addresses too (idempotent)."""
    TrioTCPStream.get_remote_address = _remote_address  # type: ignore[method-assign]
