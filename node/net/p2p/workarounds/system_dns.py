"""DNS names in peer addresses resolved by the system resolver: py-libp2p 0.8.1 asks the DNS servers directly.

Defect: the TCP transport (``libp2p/transport/tcp/tcp.py`` ``TCP.dial``) and the connection gate
(``libp2p/network/connection_gate.py`` ``extract_ip_from_multiaddr``) resolve ``/dns``, ``/dns4`` and ``/dns6``
with dnspython's resolver, which sends queries to the servers in /etc/resolv.conf and never reads /etc/hosts or
nsswitch: ``/dns4/localhost/...`` and any host name an organisation keeps in /etc/hosts fail to resolve (and, with no
reachable DNS server, every dial first waits out the query timeout). No py-libp2p issue reports it (searched its
tracker); go-libp2p resolves through Go's net.Resolver, which reads /etc/hosts.

Both are given the system resolver (``getaddrinfo``, as every other program on the host), bounded by the dial
timeout; the transport then dials each resolved address in turn.
"""

from __future__ import annotations

import socket
from typing import Any

import multiaddr
import trio
from libp2p.transport.exceptions import OpenConnectionError

_FAMILIES = {"dns": socket.AF_UNSPEC, "dns4": socket.AF_INET, "dns6": socket.AF_INET6}


def _dns_parts(addr: Any) -> tuple[str, str, str] | None:
    """(protocol, name, rest of the multiaddr) if ``addr`` starts with /dns, /dns4 or /dns6; else None."""
    parts = str(addr).split("/")
    if len(parts) < 3 or parts[1] not in _FAMILIES:
        return None
    return parts[1], parts[2], "/".join(parts[3:])


async def resolve(addr: Any, timeout_s: float) -> list[Any]:
    """``addr`` with its DNS name replaced by each address the system resolver gives (in its order).

    An address without a DNS name is returned as is; a name that does not resolve in ``timeout_s`` gives [].
    """
    dns = _dns_parts(addr)
    if dns is None:
        return [addr]
    protocol, name, rest = dns
    infos: list[Any] = []
    with trio.move_on_after(timeout_s):
        try:
            infos = await trio.socket.getaddrinfo(name, None, _FAMILIES[protocol], socket.SOCK_STREAM)
        except socket.gaierror:
            infos = []
    resolved: list[Any] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        ip = "ip6" if family == socket.AF_INET6 else "ip4"
        candidate = multiaddr.Multiaddr(f"/{ip}/{sockaddr[0]}/{rest}")
        if candidate not in resolved:
            resolved.append(candidate)
    return resolved


def use_system_resolver(host: Any, timeout_s: float) -> None:
    """Make ``host``'s transports and connection gate resolve DNS names with the system resolver."""
    swarm = host.get_network()
    for transport in swarm.transport_manager.get_transports():
        transport.dial = _resolving_dial(transport.dial, timeout_s)
    gate = swarm.connection_gate
    gate.is_allowed = _resolving_gate(gate, gate.is_allowed, timeout_s)


def _resolving_dial(dial: Any, timeout_s: float) -> Any:
    async def resolving_dial(maddr: Any) -> Any:
        if _dns_parts(maddr) is None:
            return await dial(maddr)
        resolved = await resolve(maddr, timeout_s)
        if not resolved:
            raise OpenConnectionError(f"{maddr}: the name does not resolve")
        last_error: Exception | None = None
        for addr in resolved:
            try:
                return await dial(addr)
            except Exception as exc:  # the library's dial raises several kinds; try the next address
                last_error = exc
        raise OpenConnectionError(f"{maddr}: no resolved address answered") from last_error

    return resolving_dial


def _resolving_gate(gate: Any, is_allowed: Any, timeout_s: float) -> Any:
    async def resolving_is_allowed(maddr: Any) -> bool:
        if _dns_parts(maddr) is None:
            return bool(await is_allowed(maddr))
        resolved = await resolve(maddr, timeout_s)
        if not resolved:
            return not gate.allow_list  # the library's rule for an address without an IP
        for addr in resolved:
            if await is_allowed(addr):
                return True
        return False

    return resolving_is_allowed
