"""DNS names in peer addresses go through the system resolver (which reads /etc/hosts), IP addresses pass as is."""

from __future__ import annotations

import multiaddr

from node.net import peer_id_from_seed
from node.net.p2p.workarounds.system_dns import resolve

PID = peer_id_from_seed(b"\x05" * 32)


async def test_localhost_resolves_from_etc_hosts_and_keeps_the_rest() -> None:
    got = await resolve(multiaddr.Multiaddr(f"/dns4/localhost/tcp/4001/p2p/{PID}"), timeout_s=5.0)
    assert multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/4001/p2p/{PID}") in got
    assert all(str(a).startswith("/ip4/") for a in got)  # dns4: IPv4 only


async def test_ip_addresses_are_not_resolved() -> None:
    addr = multiaddr.Multiaddr("/ip6/::1/tcp/4001")
    assert await resolve(addr, timeout_s=5.0) == [addr]
