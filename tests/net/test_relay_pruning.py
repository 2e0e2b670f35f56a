"""Relay pruning: a full mesh delivers each message once per node; partial meshes still relay."""

from __future__ import annotations

import trio
from net_helpers import Running, config, launch, seed, wait_until

from node.net import Network

TOPIC = "/vaxchain/test/relay/1"
Inbox = trio.MemoryReceiveChannel[tuple[str, bytes]]


def _knows(net: Network, peer: Network, neighbors: set[str]) -> bool:
    info = {p["id"]: p for p in net.peer_info()}
    return peer.peer_id in info and neighbors <= set(info[peer.peer_id]["neighbors"])


async def _drain(inbox: Inbox, n: int) -> list[bytes]:
    got = []
    with trio.fail_after(10):
        for _ in range(n):
            got.append((await inbox.receive())[1])
    return got


async def _full_mesh(
    nursery: trio.Nursery, n: int, ping_interval_s: float = 1.0
) -> tuple[list[Running], list[Network], list[Inbox]]:
    running: list[Running] = []
    nets: list[Network] = []
    inboxes: list[Inbox] = []
    for i in range(n):
        peers = tuple(r.addr for r in running)
        net = Network(config(peers=peers, ping_interval_s=ping_interval_s), seed(40 + i))
        inboxes.append(net.subscribe(TOPIC))
        running.append(await launch(nursery, net))
        nets.append(net)
    for net in nets:
        others = [o for o in nets if o is not net]
        await wait_until(
            lambda net=net, others=others: all(o.peer_id in net.mesh_peers(TOPIC) for o in others)
        )
    for net in nets:
        for other in nets:
            if other is not net:
                everyone_else = {o.peer_id for o in nets if o is not other}
                await wait_until(
                    lambda net=net, other=other, rest=everyone_else: _knows(net, other, rest),
                    what="neighbor lists",
                )
    return running, nets, inboxes


async def test_full_mesh_receives_each_message_once(nursery: trio.Nursery) -> None:
    _, nets, inboxes = await _full_mesh(nursery, 4)
    before = [net.counters["gossip_received"] for net in nets]
    per_node = 5
    for net in nets:
        for k in range(per_node):
            await net.publish(TOPIC, f"{net.peer_id[-6:]}/{k}".encode())
    for inbox in inboxes:
        got = await _drain(inbox, per_node * (len(nets) - 1))
        assert len(set(got)) == per_node * (len(nets) - 1)
    await trio.sleep(0.5)  # any redundant relay would have landed by now
    for net, start in zip(nets, before, strict=True):
        # Plain GossipSub: 3 copies of each of the 15 messages (from the origin and two relays).
        assert net.counters["gossip_received"] - start == per_node * (len(nets) - 1)


async def test_peer_not_connected_to_the_origin_still_gets_relayed(nursery: trio.Nursery) -> None:
    """A and D share no connection, both are connected to B and C: B and C relay between them."""
    b = Network(config(), seed(51))
    rb = await launch(nursery, b)
    c = Network(config(peers=(rb.addr,)), seed(52))
    rc = await launch(nursery, c)
    a = Network(config(peers=(rb.addr, rc.addr)), seed(53))
    d = Network(config(peers=(rb.addr, rc.addr)), seed(54))
    inbox_d = d.subscribe(TOPIC)
    inbox_a = a.subscribe(TOPIC)
    b.subscribe(TOPIC)
    c.subscribe(TOPIC)
    await launch(nursery, a)
    await launch(nursery, d)
    await wait_until(
        lambda: {a.peer_id, d.peer_id} <= set(b.mesh_peers(TOPIC)) and d.peer_id in c.mesh_peers(TOPIC)
    )
    await wait_until(lambda: _knows(b, d, {c.peer_id}) and _knows(c, d, {b.peer_id}), what="neighbor lists")
    assert d.peer_id not in a.connected_peers()

    await a.publish(TOPIC, b"a to d")
    assert (await _drain(inbox_d, 1)) == [b"a to d"]
    await d.publish(TOPIC, b"d to a")
    assert (await _drain(inbox_a, 1)) == [b"d to a"]


async def test_a_lost_connection_is_told_to_peers_at_once(nursery: trio.Nursery) -> None:
    """When d goes away, c tells b right away (not at its next periodic ping): b must not go on believing c
    has d's messages from d itself."""
    running, nets, _ = await _full_mesh(nursery, 4, ping_interval_s=60.0)
    b, c, d = nets[1], nets[2], nets[3]
    assert _knows(b, c, {d.peer_id})
    await running[3].stop()
    await wait_until(lambda: not _knows(b, c, {d.peer_id}), timeout=5, what="b learns c lost d")
