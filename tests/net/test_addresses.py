"""Real libp2p Networks on addresses other than 127.0.0.1: other loopback IPs, [::1], a DNS name, a wildcard.

All of 127.0.0.0/8 is loopback on Linux, so 127.0.0.2 and 127.0.0.3 stand in for two hosts' addresses.
"""

from __future__ import annotations

import logging
import socket

import pytest
import trio
from net_helpers import config, launch, seed, wait_until

from node.net import Network

TOPIC = "/vaxchain/test/1"


def _free_port(host: str, family: socket.AddressFamily = socket.AF_INET) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _ipv6_loopback_works() -> bool:
    try:
        _free_port("::1", socket.AF_INET6)
    except OSError:
        return False
    return True


async def _gossip_both_ways(a: Network, b: Network) -> None:
    inbox_a, inbox_b = a.subscribe(TOPIC), b.subscribe(TOPIC)
    # grafting waits for a heartbeat of each side, which a loaded 2-core machine delays (10 s timed out in a run)
    await wait_until(
        lambda: b.peer_id in a.mesh_peers(TOPIC) and a.peer_id in b.mesh_peers(TOPIC), 30, what="mesh"
    )
    await b.publish(TOPIC, b"from b")
    with trio.fail_after(5):
        assert await inbox_a.receive() == (b.peer_id, b"from b")
    await a.publish(TOPIC, b"from a")
    with trio.fail_after(5):
        assert await inbox_b.receive() == (a.peer_id, b"from a")


def _remote_addr(net: Network, peer_id: str) -> str:
    return str({p["id"]: p for p in net.peer_info()}[peer_id]["remote_addr"])


async def test_nodes_on_two_other_loopback_addresses_peer_and_gossip(nursery: trio.Nursery) -> None:
    a = Network(config(listen="/ip4/127.0.0.2/tcp/0"), seed(101))
    ra = await launch(nursery, a)
    assert ra.addr.startswith("/ip4/127.0.0.2/tcp/")
    b = Network(config(listen="/ip4/127.0.0.3/tcp/0", peers=(ra.addr,)), seed(102))
    await launch(nursery, b)
    await wait_until(lambda: b.peer_id in a.connected_peers(), what="connect")
    await _gossip_both_ways(a, b)
    assert _remote_addr(b, a.peer_id) == ra.addr.split("/p2p/")[0]
    # b dialled from its own listen address's host: a sees 127.0.0.3 (no 127.0.0.1 anywhere)
    assert _remote_addr(a, b.peer_id).startswith("/ip4/127.0.0.")


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="IPv6 loopback (::1) is not usable on this machine")
async def test_nodes_peer_over_ipv6_loopback(nursery: trio.Nursery) -> None:
    a = Network(config(listen="/ip6/::1/tcp/0"), seed(103))
    ra = await launch(nursery, a)
    assert ra.addr.startswith("/ip6/::1/tcp/")
    b = Network(config(listen="/ip6/::1/tcp/0", peers=(ra.addr,)), seed(104))
    await launch(nursery, b)
    await wait_until(lambda: b.peer_id in a.connected_peers(), what="connect")
    await _gossip_both_ways(a, b)
    assert _remote_addr(a, b.peer_id).startswith("/ip6/::1/tcp/")  # workarounds/ipv6_remote_addr.py
    assert _remote_addr(b, a.peer_id) == ra.addr.split("/p2p/")[0]


async def test_static_peer_named_by_dns_is_resolved_and_dialled(nursery: trio.Nursery) -> None:
    a = Network(config(listen="/ip4/127.0.0.1/tcp/0"), seed(105))
    ra = await launch(nursery, a)
    port = ra.addr.split("/tcp/")[1].split("/")[0]
    b = Network(config(peers=(f"/dns4/localhost/tcp/{port}/p2p/{a.peer_id}",)), seed(106))
    await launch(nursery, b)
    await wait_until(lambda: a.peer_id in b.connected_peers(), what="connect by name")
    await _gossip_both_ways(a, b)


async def test_wildcard_listener_announces_its_external_addrs(nursery: trio.Nursery) -> None:
    port = _free_port("0.0.0.0")
    external = (f"/ip4/127.0.0.2/tcp/{port}", f"/dns4/localhost/tcp/{port}")
    a = Network(config(listen=f"/ip4/0.0.0.0/tcp/{port}", external_addrs=external), seed(107))
    ra = await launch(nursery, a)
    assert a.listen_addrs == [f"{addr}/p2p/{a.peer_id}" for addr in external]
    assert ra.addr == a.listen_addrs[0]
    # Reachable on every local address: b dials 127.0.0.3, which a does not announce.
    b = Network(
        config(listen="/ip4/127.0.0.3/tcp/0", peers=(f"/ip4/127.0.0.3/tcp/{port}/p2p/{a.peer_id}",)),
        seed(108),
    )
    await launch(nursery, b)
    await wait_until(lambda: a.peer_id in b.connected_peers(), what="connect")
    await _gossip_both_ways(a, b)

    def learned() -> set[str]:
        return set({p["id"]: p for p in b.peer_info()}[a.peer_id]["addrs"])

    # identify and signed peer records tell b exactly what a announces; the wildcard is never announced
    await wait_until(lambda: learned() == set(a.listen_addrs), what="announced addresses reach the peer")


async def test_wildcard_listener_without_external_addrs_warns(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="node.net.p2p.network")
    await launch(nursery, Network(config(listen="/ip4/0.0.0.0/tcp/0"), seed(109)))
    warnings = [
        r.getMessage() for r in caplog.records if "p2p_wildcard_without_external_addrs" in r.getMessage()
    ]
    assert len(warnings) == 1 and "p2p.external_addrs" in warnings[0]
    caplog.clear()
    await launch(nursery, Network(config(listen="/ip4/127.0.0.2/tcp/0"), seed(110)))
    assert not [r for r in caplog.records if "wildcard" in r.getMessage()]
