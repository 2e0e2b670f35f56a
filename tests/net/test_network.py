"""Real libp2p Networks on 127.0.0.1 in one process: gossip, relay, validators, req/resp, restart."""

from __future__ import annotations

import os
import time

import pytest
import trio
from multiaddr import Multiaddr
from net_helpers import config, free_port, launch, seed, wait_until

from node.net import (
    MessageTooLarge,
    NetConfig,
    Network,
    NotRunning,
    PublishRejected,
    RequestFailed,
)

TOPIC = "/vaxchain/test/1"


async def recv(ch: trio.MemoryReceiveChannel[tuple[str, bytes]], timeout: float = 5.0) -> tuple[str, bytes]:
    with trio.fail_after(timeout):
        return await ch.receive()


async def nothing_arrives(ch: trio.MemoryReceiveChannel[tuple[str, bytes]], wait: float = 1.0) -> None:
    with trio.move_on_after(wait):
        got = await ch.receive()
        raise AssertionError(f"unexpected message {got!r}")


async def mesh_ready(net: Network, *peers: Network, topic: str = TOPIC) -> None:
    await wait_until(
        lambda: all(p.peer_id in net.mesh_peers(topic) for p in peers), what=f"mesh of {net.peer_id[-6:]}"
    )


async def test_two_nodes_gossip_both_ways_without_echo(nursery: trio.Nursery) -> None:
    a = Network(config(), seed(1))
    inbox_a = a.subscribe(TOPIC)  # before run()
    ra = await launch(nursery, a)
    assert ra.addr == f"{a.listen_addrs[0]}" and ra.addr.endswith("/p2p/" + a.peer_id)

    b = Network(config(peers=(ra.addr,)), seed(2))
    await launch(nursery, b)
    inbox_b = b.subscribe(TOPIC)  # after run()
    await wait_until(lambda: a.peer_id in b.connected_peers(), what="connect")
    # the listener may register the inbound connection a moment after the dialer has it
    await wait_until(lambda: b.peer_id in a.connected_peers(), what="the inbound side of the connection")
    await mesh_ready(a, b)
    await mesh_ready(b, a)

    await b.publish(TOPIC, b"from b")
    assert await recv(inbox_a) == (b.peer_id, b"from b")
    await a.publish(TOPIC, b"from a")
    assert await recv(inbox_b) == (a.peer_id, b"from a")
    await nothing_arrives(inbox_a, 0.5)  # own message not echoed back to b either way
    await nothing_arrives(inbox_b, 0.1)

    info = {p["id"]: p for p in b.peer_info()}
    assert info[a.peer_id]["connected"] and info[a.peer_id]["static"]
    assert 0 <= info[a.peer_id]["connected_s"] < 30
    assert info[a.peer_id]["direction"] == "outbound"
    assert info[a.peer_id]["remote_addr"] == ra.addr.split("/p2p/")[0]
    assert {p["direction"] for p in a.peer_info()} == {"inbound"}


async def test_line_topology_relays_through_middle(nursery: trio.Nursery) -> None:
    """A - B - C: A and C are not connected; gossip crosses B in both directions."""
    b = Network(config(), seed(11))
    inbox_b = b.subscribe(TOPIC)
    rb = await launch(nursery, b)
    a = Network(config(peers=(rb.addr,)), seed(12))
    c = Network(config(peers=(rb.addr,)), seed(13))
    inbox_a, inbox_c = a.subscribe(TOPIC), c.subscribe(TOPIC)
    await launch(nursery, a)
    await launch(nursery, c)
    await mesh_ready(b, a, c)
    await mesh_ready(a, b)
    await mesh_ready(c, b)
    assert c.peer_id not in a.connected_peers()

    await a.publish(TOPIC, b"hello from a")
    assert await recv(inbox_b) == (a.peer_id, b"hello from a")
    assert await recv(inbox_c) == (a.peer_id, b"hello from a")  # originator, not the relay
    await c.publish(TOPIC, b"hello from c")
    assert await recv(inbox_a) == (c.peer_id, b"hello from c")
    await nothing_arrives(inbox_c, 0.3)


async def test_validator_rejection_stops_relay(nursery: trio.Nursery) -> None:
    calls: list[tuple[str, bytes]] = []

    def b_validator(origin: str, data: bytes) -> bool:
        calls.append((origin, data))
        if data == b"explode":
            raise RuntimeError("validator bug")  # must be contained (../shared/NOTES.md: would crash Pubsub)
        return not data.startswith(b"bad")

    b = Network(config(), seed(21))
    inbox_b = b.subscribe(TOPIC, validator=b_validator)
    rb = await launch(nursery, b)
    a = Network(config(peers=(rb.addr,)), seed(22))
    c = Network(config(peers=(rb.addr,)), seed(23))
    inbox_c = c.subscribe(TOPIC)
    a.subscribe(TOPIC)
    await launch(nursery, a)
    await launch(nursery, c)
    await mesh_ready(b, a, c)
    await mesh_ready(a, b)

    await a.publish(TOPIC, b"bad block")
    await a.publish(TOPIC, b"explode")
    await a.publish(TOPIC, b"good block")
    # Order is not guaranteed by gossipsub, but the rejected ones never arrive anywhere past B.
    assert await recv(inbox_b) == (a.peer_id, b"good block")
    assert await recv(inbox_c) == (a.peer_id, b"good block")
    await nothing_arrives(inbox_b, 0.5)
    await nothing_arrives(inbox_c, 0.1)
    assert (a.peer_id, b"bad block") in calls and (a.peer_id, b"explode") in calls

    # B survived its validator raising, and its own publishes go through its validator first.
    with pytest.raises(PublishRejected):
        await b.publish(TOPIC, b"bad idea")
    await b.publish(TOPIC, b"fine")
    assert await recv(inbox_c) == (b.peer_id, b"fine")


async def test_publish_limits_and_state(nursery: trio.Nursery) -> None:
    a = Network(NetConfig(max_message_bytes=1000), seed(31))
    with pytest.raises(NotRunning):
        await a.publish(TOPIC, b"x")
    await launch(nursery, a)
    with pytest.raises(MessageTooLarge) as info:
        await a.publish(TOPIC, b"x" * 1001)
    assert (info.value.size, info.value.limit) == (1001, 1000)
    await a.publish(TOPIC, b"x" * 1000)  # no peers, no subscription: fine
    with pytest.raises(RequestFailed, match="not connected"):
        await a.request(Network(NetConfig(), seed(32)).peer_id, "/x/1", b"")


async def test_oversized_gossip_from_peer_is_dropped(nursery: trio.Nursery) -> None:
    """A receiver with a smaller limit drops what a peer with a bigger limit publishes."""
    small = Network(config(max_message_bytes=100), seed(35))
    inbox = small.subscribe(TOPIC)
    rs = await launch(nursery, small)
    big = Network(config(peers=(rs.addr,), max_message_bytes=10_000), seed(36))
    big.subscribe(TOPIC)
    await launch(nursery, big)
    await mesh_ready(big, small)
    await big.publish(TOPIC, b"y" * 5000)
    await big.publish(TOPIC, b"small enough")
    assert await recv(inbox) == (big.peer_id, b"small enough")
    await nothing_arrives(inbox, 0.3)


async def test_request_response(nursery: trio.Nursery) -> None:
    big = os.urandom(5 * 1024 * 1024)
    server = Network(config(), seed(41))

    async def echo(peer: str, data: bytes) -> bytes:
        return peer.encode() + b":" + data

    async def blocks(peer: str, data: bytes) -> bytes:
        return big

    async def broken(peer: str, data: bytes) -> bytes:
        raise ValueError("no such block")

    async def slow(peer: str, data: bytes) -> bytes:
        await trio.sleep(5)
        return b"late"

    server.set_request_handler("/vaxchain/echo/1", echo)
    server.set_request_handler("/vaxchain/sync/1", blocks)
    server.set_request_handler("/vaxchain/broken/1", broken)
    rs = await launch(nursery, server)
    server.set_request_handler("/vaxchain/slow/1", slow)  # after run() works too

    client = Network(config(peers=(rs.addr,)), seed(42))
    await launch(nursery, client)
    await wait_until(lambda: server.peer_id in client.connected_peers())

    assert await client.request(server.peer_id, "/vaxchain/echo/1", b"hi") == client.peer_id.encode() + b":hi"
    got = await client.request(server.peer_id, "/vaxchain/sync/1", b"")
    assert got == big

    with pytest.raises(RequestFailed) as info:
        await client.request(server.peer_id, "/vaxchain/broken/1", b"")
    assert info.value.peer_id == server.peer_id
    assert "ValueError" in info.value.reason and "no such block" in info.value.reason
    assert server.counters["requests_handler_errors"] == 1

    with pytest.raises(RequestFailed, match="timeout"):
        await client.request(server.peer_id, "/vaxchain/slow/1", b"", timeout_s=0.3)
    with pytest.raises(RequestFailed):
        await client.request(server.peer_id, "/vaxchain/unknown/1", b"")
    with pytest.raises(RequestFailed, match="invalid peer id"):
        await client.request("nonsense", "/vaxchain/echo/1", b"")

    # The server is still fine after all that, in both directions.
    assert (
        await client.request(server.peer_id, "/vaxchain/echo/1", b"again")
        == client.peer_id.encode() + b":again"
    )
    client.set_request_handler("/vaxchain/echo/1", echo)
    assert (
        await server.request(client.peer_id, "/vaxchain/echo/1", b"back")
        == server.peer_id.encode() + b":back"
    )


async def test_request_and_response_size_limits(nursery: trio.Nursery) -> None:
    server = Network(config(max_request_bytes=1000, max_response_bytes=2000), seed(45))

    async def sized(peer: str, data: bytes) -> bytes:
        return b"z" * int(data)

    server.set_request_handler("/vaxchain/sized/1", sized)
    rs = await launch(nursery, server)
    client = Network(config(peers=(rs.addr,), max_response_bytes=1500), seed(46))
    await launch(nursery, client)
    await wait_until(lambda: server.peer_id in client.connected_peers())

    assert await client.request(server.peer_id, "/vaxchain/sized/1", b"1500") == b"z" * 1500
    with pytest.raises(RequestFailed, match="response too large"):  # client's own limit
        await client.request(server.peer_id, "/vaxchain/sized/1", b"1501")
    with pytest.raises(RequestFailed, match="remote: response too large"):  # server's limit
        await client.request(server.peer_id, "/vaxchain/sized/1", b"2001")
    with pytest.raises(RequestFailed, match="remote: request too large"):
        await client.request(server.peer_id, "/vaxchain/sized/1", b"1" + b"0" * 1000)
    with pytest.raises(MessageTooLarge):
        await server.request(client.peer_id, "/vaxchain/sized/1", b"0" * 1001)
    assert await client.request(server.peer_id, "/vaxchain/sized/1", b"3") == b"zzz"


async def test_peer_restart_is_redialed(nursery: trio.Nursery) -> None:
    """Restart B (same key, same port): A and C redial it by themselves; gossip flows again."""
    port_b = free_port()
    b_addr = f"/ip4/127.0.0.1/tcp/{port_b}/p2p/" + Network(NetConfig(), seed(52)).peer_id
    a = Network(config(peers=(b_addr,)), seed(51))
    c = Network(config(peers=(b_addr,)), seed(53))
    inbox_a, inbox_c = a.subscribe(TOPIC), c.subscribe(TOPIC)
    await launch(nursery, a)
    await launch(nursery, c)  # B is not up yet: A and C are in their backoff loops

    b1 = Network(config(listen=f"/ip4/127.0.0.1/tcp/{port_b}"), seed(52))
    b1.subscribe(TOPIC)
    rb1 = await launch(nursery, b1)
    await mesh_ready(b1, a, c)
    for i in range(30):  # consumes 30 seqnos: the restarted B must not reuse them
        await b1.publish(TOPIC, b"before restart %d" % i)
    for _ in range(30):
        assert (await recv(inbox_a))[1].startswith(b"before restart")
        assert (await recv(inbox_c))[1].startswith(b"before restart")

    await rb1.stop()
    await wait_until(lambda: not a.connected_peers() and not c.connected_peers(), what="disconnect")

    # The new B has no static peers: reconnection must come from A's and C's redial loops.
    b2 = Network(config(listen=f"/ip4/127.0.0.1/tcp/{port_b}"), seed(52))
    inbox_b2 = b2.subscribe(TOPIC)
    start = trio.current_time()
    await launch(nursery, b2)
    await wait_until(lambda: len(b2.connected_peers()) == 2, timeout=5, what="redial after restart")
    elapsed = trio.current_time() - start
    assert elapsed < 5
    await mesh_ready(b2, a, c)
    await b2.publish(TOPIC, b"after restart")
    assert await recv(inbox_a) == (b2.peer_id, b"after restart")
    assert await recv(inbox_c) == (b2.peer_id, b"after restart")
    await mesh_ready(a, b2)  # the other direction too: A's view of B is not stale
    await a.publish(TOPIC, b"welcome back")
    assert await recv(inbox_b2) == (a.peer_id, b"welcome back")


async def test_second_node_on_same_port_is_refused(nursery: trio.Nursery) -> None:
    """py-libp2p listens with SO_REUSEPORT; without our check both nodes would share the port."""
    port = free_port()
    await launch(nursery, Network(NetConfig(listen=f"/ip4/127.0.0.1/tcp/{port}"), seed(55)))
    twin = Network(NetConfig(listen=f"/ip4/127.0.0.1/tcp/{port}"), seed(56))
    with pytest.raises(Exception, match="in use"):
        await twin.run()


async def test_allowlist_rejects_stranger(nursery: trio.Nursery) -> None:
    friend_seed, stranger_seed = seed(62), seed(63)
    friend_id = Network(NetConfig(), friend_seed).peer_id
    a = Network(config(allowlist=(friend_id,)), seed(61))
    inbox_a = a.subscribe(TOPIC)

    async def echo(peer: str, data: bytes) -> bytes:
        return data

    a.set_request_handler("/vaxchain/echo/1", echo)
    ra = await launch(nursery, a)

    friend = Network(config(peers=(ra.addr,)), friend_seed)
    friend.subscribe(TOPIC)
    stranger = Network(config(peers=(ra.addr,), reconnect_min_s=0.2, reconnect_max_s=0.2), stranger_seed)
    stranger.subscribe(TOPIC)
    await launch(nursery, friend)
    await launch(nursery, stranger)

    await mesh_ready(a, friend)
    await wait_until(lambda: a.counters["peers_rejected"] >= 1, what="stranger rejected")
    await friend.publish(TOPIC, b"from friend")
    assert await recv(inbox_a) == (friend.peer_id, b"from friend")
    for i in range(5):  # the stranger keeps trying; nothing of it gets through
        with trio.move_on_after(0.3):
            await wait_until(lambda: a.peer_id in stranger.connected_peers(), timeout=0.3)
            with pytest.raises(RequestFailed):
                await stranger.request(a.peer_id, "/vaxchain/echo/1", b"let me in")
            with trio.move_on_after(0.2):
                await stranger.publish(TOPIC, b"stranger %d" % i)
    await nothing_arrives(inbox_a, 0.5)
    assert stranger.peer_id not in a.mesh_peers(TOPIC)


async def test_members_update_closes_connections_no_longer_allowed(nursery: trio.Nursery) -> None:
    a = Network(config(), seed(71))
    inbox_a = a.subscribe(TOPIC)
    ra = await launch(nursery, a)
    fast = {"reconnect_min_s": 0.2, "reconnect_max_s": 0.2}
    member = Network(config(peers=(ra.addr,), **fast), seed(72))
    leaver = Network(config(peers=(ra.addr,), **fast), seed(73))
    for net in (member, leaver):
        net.subscribe(TOPIC)
        await launch(nursery, net)
    await wait_until(lambda: {member.peer_id, leaver.peer_id} <= set(a.connected_peers()), what="connect")
    assert a.set_members({member.peer_id, leaver.peer_id}) == 0  # both members: nothing to close

    # The leaver's organisation is suspended: its connection closes at once, and its redials are refused.
    assert a.set_members({member.peer_id}) == 1
    await wait_until(lambda: leaver.peer_id not in a.connected_peers(), what="leaver disconnected")
    assert a.counters["peers_evicted"] == 1
    await mesh_ready(a, member)
    await member.publish(TOPIC, b"from member")
    assert await recv(inbox_a) == (member.peer_id, b"from member")
    for i in range(5):
        with trio.move_on_after(0.2):
            await leaver.publish(TOPIC, b"from leaver %d" % i)
        await trio.sleep(0.1)
    await nothing_arrives(inbox_a, 0.5)
    assert a.counters["peers_rejected"] >= 1
    assert leaver.peer_id not in a.mesh_peers(TOPIC)

    # Reactivated: it is admitted again, and its gossip gets through (what it published while shut out may
    # follow now, from its message cache: it is a member again).
    assert a.set_members({member.peer_id, leaver.peer_id}) == 0
    await mesh_ready(a, leaver)
    await leaver.publish(TOPIC, b"back again")
    while (got := await recv(inbox_a)) != (leaver.peer_id, b"back again"):
        assert got[0] == leaver.peer_id and got[1].startswith(b"from leaver"), got


async def test_a_static_peer_that_is_no_member_is_not_dialed(nursery: trio.Nursery) -> None:
    b = Network(config(), seed(75))
    rb = await launch(nursery, b)
    a = Network(config(peers=(rb.addr,), reconnect_min_s=0.2, reconnect_max_s=0.2), seed(74))
    a.set_members(set())  # before run(): b is static but no member
    await launch(nursery, a)
    await trio.sleep(1.0)
    assert a.connected_peers() == [] and b.connected_peers() == []
    a.set_members({b.peer_id})  # the redial wakes up
    await wait_until(lambda: b.peer_id in a.connected_peers(), what="dial once a member")


async def test_liveness_pings_measure_rtt(nursery: trio.Nursery) -> None:
    a = Network(config(ping_interval_s=0.2), seed(71))
    ra = await launch(nursery, a)
    b = Network(config(peers=(ra.addr,), ping_interval_s=0.2), seed(72))
    await launch(nursery, b)

    def rtt_known() -> bool:
        return any(p["rtt_ms"] is not None for p in b.peer_info())

    await wait_until(rtt_known, what="ping rtt")
    assert b.counters["pings_failed"] == 0


async def test_subscription_channel_closes_when_network_stops(nursery: trio.Nursery) -> None:
    a = Network(config(), seed(81))
    inbox = a.subscribe(TOPIC)
    ra = await launch(nursery, a)
    await ra.stop()
    with trio.fail_after(2), pytest.raises(trio.EndOfChannel):
        await inbox.receive()
    with pytest.raises(Exception, match="only once"):
        await a.run()


async def test_burst_is_not_lost(nursery: trio.Nursery) -> None:
    """../shared/NOTES.md: publishing faster than peers drain used to be lost silently; publish() now waits."""
    a = Network(config(), seed(91))
    inbox = a.subscribe(TOPIC, buffer=5000)
    ra = await launch(nursery, a)
    b = Network(config(peers=(ra.addr,), peer_queue_size=32), seed(92))  # small queue: exercise waits
    b.subscribe(TOPIC)
    await launch(nursery, b)
    await mesh_ready(b, a)
    n = 400
    for i in range(n):
        await b.publish(TOPIC, i.to_bytes(4, "big") + bytes(1020))
    got: set[int] = set()
    with trio.move_on_after(30):
        while len(got) < n:
            _, data = await inbox.receive()
            got.add(int.from_bytes(data[:4], "big"))
    assert len(got) == n, f"lost {n - len(got)} of {n}"
    assert a.counters["gossip_dropped_slow_consumer"] == 0


async def test_restarted_publisher_is_still_relayed(nursery: trio.Nursery) -> None:
    """A - B - C. A restarts with the same key; B must keep relaying A's new messages to C.

    py-libp2p seeds seqnos with int(time.time()) + 1 per publish, so a restarted node reuses
    seqnos B remembers and B's router refuses to relay them as "equivocation".
    """
    b = Network(config(), seed(95))
    b.subscribe(TOPIC)
    rb = await launch(nursery, b)
    c = Network(config(peers=(rb.addr,)), seed(96))
    inbox_c = c.subscribe(TOPIC)
    await launch(nursery, c)
    a1 = Network(config(peers=(rb.addr,)), seed(97))
    a1.subscribe(TOPIC)
    ra1 = await launch(nursery, a1)
    await mesh_ready(b, a1, c)
    await mesh_ready(a1, b)
    for i in range(30):
        await a1.publish(TOPIC, b"old %d" % i)
    for _ in range(30):
        assert (await recv(inbox_c))[1].startswith(b"old")
    await ra1.stop()

    a2 = Network(config(peers=(rb.addr,)), seed(97))
    a2.subscribe(TOPIC)
    await launch(nursery, a2)
    await mesh_ready(a2, b)
    await mesh_ready(b, a2, c)
    await a2.publish(TOPIC, b"new")
    assert await recv(inbox_c) == (a2.peer_id, b"new")


async def test_a_banned_peer_is_dropped_refused_and_let_back_after_the_ban(nursery: trio.Nursery) -> None:
    a = Network(config(), seed(71))
    inbox_a = a.subscribe(TOPIC)
    ra = await launch(nursery, a)
    rogue = Network(config(peers=(ra.addr,), reconnect_min_s=0.2, reconnect_max_s=0.2), seed(72))
    rogue.subscribe(TOPIC)
    await launch(nursery, rogue)
    await mesh_ready(a, rogue)
    await rogue.publish(TOPIC, b"before")
    assert await recv(inbox_a) == (rogue.peer_id, b"before")

    a.ban(rogue.peer_id, 3.0)
    assert a.counters["peers_banned"] == 1
    await wait_until(lambda: rogue.peer_id not in a.connected_peers(), what="rogue disconnected")
    a.ban(rogue.peer_id, 3.0)  # already banned: nothing more
    assert a.counters["peers_banned"] == 1
    await wait_until(lambda: a.counters["peers_rejected"] >= 1, what="the rogue's redial refused")
    for i in range(3):
        with trio.move_on_after(0.3):
            await rogue.publish(TOPIC, b"banned %d" % i)
    await nothing_arrives(inbox_a, 0.5)
    # After the ban the rogue's redials are accepted again.
    await wait_until(
        lambda: rogue.peer_id in a.mesh_peers(TOPIC) and a.peer_id in rogue.mesh_peers(TOPIC),
        timeout=15.0,
        what="rogue back in the mesh",
    )
    await rogue.publish(TOPIC, b"after")
    assert await recv(inbox_a) == (rogue.peer_id, b"after")


async def test_a_peer_restarted_with_its_clock_behind_is_still_heard(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B restarts with its wall clock an hour behind its previous run: A and B gossip both ways again.

    Its signed peer record's seq (wall-clock ns) is now older than the one A holds, which made py-libp2p ignore
    every RPC B sent, subscriptions included (workarounds/stale_peer_record.py).
    """
    from libp2p.peer import peer_record

    a = Network(config(), seed(61))
    inbox_a = a.subscribe(TOPIC)
    ra = await launch(nursery, a)
    b1 = Network(config(peers=(ra.addr,)), seed(62))
    b1.subscribe(TOPIC)
    rb1 = await launch(nursery, b1)
    await mesh_ready(a, b1)
    await b1.publish(TOPIC, b"before")
    assert await recv(inbox_a) == (b1.peer_id, b"before")  # A now holds B's record, seq = now
    await rb1.stop()
    await wait_until(lambda: not a.connected_peers(), what="disconnect")

    class _ClockBehind:
        @staticmethod
        def time_ns() -> int:
            return time.time_ns() - 3600 * 10**9

    monkeypatch.setattr(peer_record, "time", _ClockBehind)
    monkeypatch.setattr(peer_record, "_last_timestamp", 0)
    b2 = Network(config(peers=(ra.addr,)), seed(62))
    inbox_b2 = b2.subscribe(TOPIC)
    await launch(nursery, b2)
    await mesh_ready(a, b2)  # B's subscription was among the ignored RPCs
    await mesh_ready(b2, a)
    await b2.publish(TOPIC, b"after")
    assert await recv(inbox_a) == (b2.peer_id, b"after")
    await a.publish(TOPIC, b"welcome back")
    assert await recv(inbox_b2) == (a.peer_id, b"welcome back")


async def test_a_ping_that_never_returns_still_closes_its_peer_and_others_are_still_pinged(
    nursery: trio.Nursery,
) -> None:
    """Over a silent link py-libp2p may not return from a request until the connection is closed (its failed
    stream's reset waits, shielded, on a write blocked for good). Such a ping must count as missed, close the
    connection, and never stop the pings to other peers."""
    wedged = Network(config(), seed(81))
    healthy = Network(config(), seed(82))
    rw, rh = await launch(nursery, wedged), await launch(nursery, healthy)
    # A timeout well above a loopback round trip: the healthy peer must never miss 3 pings on a busy machine.
    a = Network(config(peers=(rw.addr, rh.addr), ping_interval_s=0.3, ping_timeout_s=1.0), seed(80))
    await launch(nursery, a)
    await wait_until(
        lambda: {wedged.peer_id, healthy.peer_id} <= set(a.connected_peers()), what="both connected"
    )
    real_request = a._peers._request
    calls = {"wedged": 0, "healthy": 0, "hung": 0, "most_hung": 0}

    async def request(peer_id: str, protocol: str, data: bytes, timeout_s: float) -> bytes:
        if peer_id != wedged.peer_id:
            calls["healthy"] += 1
            return await real_request(peer_id, protocol, data, timeout_s)
        calls["wedged"] += 1
        calls["hung"] += 1
        calls["most_hung"] = max(calls["most_hung"], calls["hung"])
        with trio.CancelScope(shield=True):  # like the library's clean-up: deaf to our timeout
            while wedged.peer_id in a.connected_peers():
                await trio.sleep(0.05)
        calls["hung"] -= 1
        raise RequestFailed(peer_id, "connection closed")

    a._peers._request = request
    await wait_until(lambda: wedged.peer_id not in a.connected_peers(), timeout=15, what="wedged peer closed")
    assert a.counters["pings_wedged"] >= 3 and calls["most_hung"] == 1  # no second ping piled up
    assert healthy.peer_id in a.connected_peers()
    pinged = calls["healthy"]
    await trio.sleep(1.5)
    assert calls["healthy"] >= pinged + 2  # the healthy peer is pinged on
    # the static peer is redialed, and pinged again once the hung ping returned
    await wait_until(lambda: calls["wedged"] >= 2, timeout=10, what="redialed and pinged again")


async def test_a_request_answers_within_its_timeout_when_the_library_does_not_return(
    nursery: trio.Nursery,
) -> None:
    """py-libp2p's clean-up of a failed stream can wait, shielded, on a write blocked for good (a silent link):
    the request still fails at its timeout, and other requests go on."""
    server = Network(config(), seed(84))

    async def echo(peer_id: str, data: bytes) -> bytes:
        return data

    server.set_request_handler("/vaxchain/echo/1", echo)
    rs = await launch(nursery, server)
    client = Network(config(peers=(rs.addr,)), seed(83))
    await launch(nursery, client)
    await wait_until(lambda: server.peer_id in client.connected_peers(), what="connected")
    real_new_stream = client._host.new_stream
    release = trio.Event()

    async def new_stream(peer: object, protocols: list[str]) -> object:
        if protocols == ["/vaxchain/hang/1"]:
            with trio.CancelScope(shield=True):  # deaf to the request's own timeout
                await release.wait()
            raise ConnectionResetError("stream reset")
        return await real_new_stream(peer, protocols)

    client._host.new_stream = new_stream
    start = trio.current_time()
    with pytest.raises(RequestFailed, match="did not return"):
        await client.request(server.peer_id, "/vaxchain/hang/1", b"", timeout_s=0.3)
    assert trio.current_time() - start < 2.0 and client.counters["requests_hung"] == 1
    assert await client.request(server.peer_id, "/vaxchain/echo/1", b"still") == b"still"
    release.set()  # the connection closes: the hung exchange ends and leaves nothing in flight
    await wait_until(lambda: client._requests._in_flight == 0, what="hung exchange ended")


async def test_a_static_peer_is_redialed_at_its_configured_address_not_an_announced_one(
    nursery: trio.Nursery,
) -> None:
    """Once connected, a peer's announced addresses (identify, its signed peer record) join the configured one
    in the peerstore, and the swarm dials only one TCP address per peer: the redial must use the configured
    address, or a peer that announces an address unreachable from here (private, NAT-ed) is lost for good."""
    b = Network(config(), seed(86))
    rb = await launch(nursery, b)
    a = Network(config(peers=(rb.addr,), reconnect_min_s=0.2, reconnect_max_s=0.5), seed(85))
    await launch(nursery, a)
    await wait_until(lambda: b.peer_id in a.connected_peers(), what="connected")
    peer = next(p for p in a._host.get_network().get_connections_map() if p.to_base58() == b.peer_id)
    unreachable = Multiaddr(f"/ip4/127.0.0.1/tcp/{free_port()}")  # nothing listens there
    store = a._host.get_peerstore()
    known = store.addrs(peer)
    store.clear_addrs(peer)
    store.add_addrs(peer, [unreachable, *known], 3600)  # announced first, as identify leaves it
    await a._peers._close(peer)
    await wait_until(lambda: b.peer_id not in a.connected_peers(), what="closed")
    await wait_until(lambda: b.peer_id in a.connected_peers(), timeout=10, what="redialed")
