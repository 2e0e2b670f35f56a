"""Peer policy: the allowlist, static peers kept connected, ping liveness and the neighbor lists pings carry.

Static peers are redialed forever (py-libp2p has no reconnect, ../shared/NOTES.md); every connected peer is pinged,
and one that stops answering (SIGSTOP'd, wedged) is disconnected. Pings carry each side's connections, which
relay pruning (``workarounds/relay_pruning.py``) reads.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import INotifee

from node.net.config import NetConfig
from node.net.errors import NotRunning, RequestFailed
from node.net.p2p.host import PeerIdText, id_from_text, is_connected, remote_addr
from node.net.p2p.lifecycle import Lifecycle
from node.net.p2p.workarounds.dead_stream import gossip_stuck
from node.net.p2p.workarounds.peer_queue import raise_peer_queue
from node.net.p2p.workarounds.relay_pruning import decode_neighbors, encode_neighbors
from node.net.p2p.workarounds.stuck_close import close_connections

log = logging.getLogger(__name__)

PING_PROTOCOL = "/vaxchain/ping/1"
_CLOSE_GRACE_S = 1.0
# A connection that stayed up this long resets the redial backoff.
_STABLE_CONNECTION_S = 2.0
# One ping round for a burst of connection changes.
_NEIGHBOR_SETTLE_S = 0.2
# Gossip held for a connected peer this long means the library cannot send to it (workarounds/dead_stream.py):
# a new peer announces its topics within a round trip or two.
_GOSSIP_STUCK_S = 10.0

Request = Callable[[str, str, bytes, float], Awaitable[bytes]]


class Allowlist:
    """Which peers may talk to us.

    Without on-chain membership: anyone if the configured allowlist is empty, else the listed and static peers.
    With membership (``set_members``): only the members and the configured allowlist (bootstrap), so a static
    peer too must be a member. We are always allowed.
    """

    __slots__ = ("_allowed", "_configured", "_members", "_own", "_static")

    def __init__(self, allowlist: Iterable[str], static_peers: Iterable[str], own_peer_id: str) -> None:
        self._configured = frozenset(allowlist)
        self._static = frozenset(static_peers)
        self._own = own_peer_id
        self._members: frozenset[str] | None = None
        self._allowed: frozenset[str] | None = self._compute()

    def _compute(self) -> frozenset[str] | None:
        if self._members is not None:
            return self._members | self._configured
        return self._configured | self._static if self._configured else None

    @property
    def is_open(self) -> bool:
        """True when anyone may connect (no allowlist configured and no membership)."""
        return self._allowed is None

    @property
    def members(self) -> frozenset[str] | None:
        """The member peer ids last set, or None when membership is not enforced."""
        return self._members

    def set_members(self, members: Iterable[str] | None) -> bool:
        """Replace the member set (None: membership not enforced); True when what is allowed changed."""
        self._members = None if members is None else frozenset(members)
        before, self._allowed = self._allowed, self._compute()
        return before != self._allowed

    def permits(self, peer_id: str) -> bool:
        """Whether ``peer_id`` (base58) may connect, gossip and make requests."""
        return self._allowed is None or peer_id in self._allowed or peer_id == self._own


class NeighborLists:
    """The peers each connected peer last told us it is connected to (raw ids)."""

    __slots__ = ("_lists",)

    def __init__(self) -> None:
        self._lists: dict[bytes, frozenset[bytes]] = {}

    def of(self, peer: bytes) -> frozenset[bytes]:
        """What ``peer`` last reported; empty if nothing (then gossip is relayed to it as usual)."""
        return self._lists.get(peer, frozenset())

    def record(self, peer: bytes, neighbors: frozenset[bytes]) -> None:
        self._lists[peer] = neighbors

    def forget(self, peer: bytes) -> None:
        self._lists.pop(peer, None)


@dataclass(slots=True)
class PeerHealth:
    """The last ping round trip to a peer and how many pings in a row it has missed."""

    rtt_ms: float | None = None
    ping_failures: int = 0
    connected_at: float | None = None  # trio clock when the current connection opened


@dataclass(slots=True)
class _Ping:
    """A ping in flight: when it was sent, and how many rounds counted it as missed while it hung."""

    started_at: float
    missed: int = 0


class Peers:
    """Connections: allowlist enforcement, static peers redialed, liveness pings, peer info."""

    def __init__(
        self,
        config: NetConfig,
        host: Any,
        pubsub: Any,
        *,
        static: dict[str, Any],
        allowlist: Allowlist,
        neighbors: NeighborLists,
        peer_text: PeerIdText,
        lifecycle: Lifecycle,
        counters: dict[str, int],
        request: Request,
        on_disconnect: Callable[[Any], None],
    ) -> None:
        self._cfg = config
        self._host = host
        self._pubsub = pubsub
        self._static = static
        self._allowlist = allowlist
        self._neighbors = neighbors
        self._text = peer_text
        self._life = lifecycle
        self.counters = counters
        self._request = request
        self._on_disconnect = on_disconnect
        self._health: dict[str, PeerHealth] = {}
        self._pings: dict[str, _Ping] = {}  # in flight, by peer id
        self._closing: set[str] = set()  # peer ids whose close is in flight
        self._conn_changed = trio.Event()
        self._allow_changed = trio.Event()
        host.get_network().register_notifee(_Notifee(self))

    def start(self, nursery: trio.Nursery) -> None:
        """Start redialing static peers and pinging (called once the stack runs)."""
        for pid, info in self._static.items():
            # Never trim a static peer's connection in favour of another one.
            self._host.get_network().protect(info.peer_id, "vaxchain-static")
            nursery.start_soon(self._keep_connected, pid, info)
        nursery.start_soon(self._liveness_loop, nursery)

    def is_connected(self, peer: Any) -> bool:
        return is_connected(self._host, peer)

    def on_connection_change(self, peer: Any, *, connected: bool) -> None:
        """The swarm opened or closed a connection to ``peer``: must never block."""
        pid = peer.to_base58()
        self._wake_connection_waiters()
        if not connected:
            if not self.is_connected(peer):
                # Forget what we knew of a peer no longer connected (strangers must not grow the table) except
                # the static peers we show anyway.
                if pid in self._static:
                    self._health.setdefault(pid, PeerHealth()).connected_at = None
                else:
                    self._health.pop(pid, None)
            self._on_disconnect(peer)
            self._neighbors.forget(peer.to_bytes())
            return
        health = self._health.setdefault(pid, PeerHealth())
        if health.connected_at is None:
            health.connected_at = trio.current_time()
        nursery = self._life.nursery
        if nursery is None:
            return
        if not self._allowlist.permits(pid) or self._pubsub.is_peer_blacklisted(peer):  # Network.ban
            self.counters["peers_rejected"] += 1
            log.warning("rejecting connection from %s: not in allowlist, or banned", pid)
            nursery.start_soon(self._reject_peer, peer)
            return
        nursery.start_soon(raise_peer_queue, self._pubsub, peer, self._cfg.peer_queue_size)

    def _wake_connection_waiters(self) -> None:
        self._conn_changed.set()
        self._conn_changed = trio.Event()

    async def _close(self, peer: Any) -> None:
        """Close ``peer``'s connections; a forced close may end without the library telling us, so tell ourselves
        (the redial loop of a static peer waits for a change)."""
        if await close_connections(self._host, peer, _CLOSE_GRACE_S):
            self._wake_connection_waiters()

    def _close_soon(self, nursery: trio.Nursery, peer: Any) -> None:
        """Close ``peer``'s connections in the background, once at a time."""
        pid = peer.to_base58()
        if pid in self._closing:
            return
        self._closing.add(pid)

        async def close() -> None:
            try:
                await self._close(peer)
            finally:
                self._closing.discard(pid)

        nursery.start_soon(close)

    def enforce_allowlist(self) -> int:
        """The allowlist changed: close every connection it no longer permits (in the background), let peers it
        permits again gossip, and wake the redial of static peers. Returns how many connections are closed."""
        self._allow_changed.set()
        self._allow_changed = trio.Event()
        for peer in self._pubsub.get_blacklisted_peers():
            if self._allowlist.permits(peer.to_base58()):
                self._pubsub.remove_from_blacklist(peer)
        nursery = self._life.nursery
        if nursery is None:
            return 0  # not running: the allowlist applies to the connections made once it runs
        closed = 0
        for peer, conns in list(self._host.get_network().get_connections_map().items()):
            pid = peer.to_base58()
            if conns and not self._allowlist.permits(pid):
                self.counters["peers_evicted"] += 1
                log.warning("closing connection to %s: no longer allowed", pid)
                nursery.start_soon(self._reject_peer, peer)
                closed += 1
        return closed

    async def _reject_peer(self, peer: Any) -> None:
        self._pubsub.add_to_blacklist(peer)  # drop anything it manages to send before the close
        await self._close(peer)

    async def _keep_connected(self, pid: str, info: Any) -> None:
        """Redial a static peer forever with jittered exponential backoff (../shared/NOTES.md: no reconnect).

        The backoff resets only once a connection has stayed up for a while, so a peer that
        accepts and drops us at once (its allowlist, say) is not redialed in a tight loop.
        """
        backoff = self._cfg.reconnect_min_s
        while True:
            if not self._allowlist.permits(pid):
                await self._allow_changed.wait()  # not a member (any more): dial once it is again
                continue
            if not self.is_connected(info.peer_id):
                try:
                    # ../shared/NOTES.md: a failed dial puts the peer in a 60 s negative cache; we pace dials.
                    self._host.get_network().unblock_peer(info.peer_id)
                    # Dial the configured address, not one the peer announced since (identify, its peer record):
                    # the swarm dials one TCP address per peer, and an announced one may not be reachable from
                    # here (a private or NAT-ed listen address; the lab's direct address behind its relay).
                    self._host.get_peerstore().clear_addrs(info.peer_id)
                    with trio.fail_after(self._cfg.dial_timeout_s):
                        await self._host.connect(info)
                    log.info("connected to static peer %s", pid)
                except Exception as exc:  # any dial failure just means "try again later"
                    log.debug("dial %s failed: %r", pid, exc)
            if self.is_connected(info.peer_id):
                since = trio.current_time()
                while True:
                    changed = self._conn_changed
                    if not self.is_connected(info.peer_id):
                        break
                    await changed.wait()
                if trio.current_time() - since >= _STABLE_CONNECTION_S:
                    backoff = self._cfg.reconnect_min_s
            await trio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self._cfg.reconnect_max_s)

    async def _liveness_loop(self, nursery: trio.Nursery) -> None:
        """Ping every connected peer; close connections that stop answering (SIGSTOP'd, wedged).

        Pings carry our connections both ways (relay pruning), so a change of connections pings at once:
        a peer that still believed us connected to a lost origin would not relay its messages to us.

        The loop never waits for a ping: over a silent link (packets dropped) py-libp2p may not return from a
        request until the connection is closed (``workarounds/stuck_close.py``), and one such ping must not stop
        the pings and closes of every other peer. A ping still in flight past its timeout counts as missed, once
        per round, until its peer is closed.
        """
        while True:
            with trio.move_on_after(self._cfg.ping_interval_s):
                await self._conn_changed.wait()
                await trio.sleep(_NEIGHBOR_SETTLE_S)  # one round for a burst of connection changes
            now = trio.current_time()
            for peer in self._host.get_network().get_connections_map():
                pid = peer.to_base58()
                ping = self._pings.get(pid)
                if ping is None:
                    self._pings[pid] = _Ping(now)
                    nursery.start_soon(self._ping_peer, nursery, peer)
                elif now - ping.started_at >= self._cfg.ping_timeout_s * (ping.missed + 1):
                    ping.missed += 1
                    self.counters["pings_wedged"] += 1
                    self._ping_missed(nursery, peer, "no answer, and the request has not returned")
            for peer in gossip_stuck(self._pubsub.router, _GOSSIP_STUCK_S):
                if self.is_connected(peer) and peer.to_base58() not in self._closing:
                    self.counters["gossip_stuck_resets"] += 1
                    log.warning(
                        "gossip to %s is stuck: closing its connection to start afresh", peer.to_base58()
                    )
                    self._close_soon(nursery, peer)

    async def _ping_peer(self, nursery: trio.Nursery, peer: Any) -> None:
        pid = peer.to_base58()
        start = trio.current_time()
        try:
            answer = await self._request(pid, PING_PROTOCOL, self._own_neighbors(), self._cfg.ping_timeout_s)
        except (RequestFailed, NotRunning) as exc:
            ping = self._pings.get(pid)
            if ping is None or ping.missed == 0:  # else the loop counted this ping while it hung
                self._ping_missed(nursery, peer, str(exc))
            return
        finally:
            self._pings.pop(pid, None)
        if not self.is_connected(peer):
            return  # a late answer must not outlive the connection it describes
        health = self._health.setdefault(pid, PeerHealth())
        health.ping_failures = 0
        health.rtt_ms = (trio.current_time() - start) * 1000.0
        self._neighbors.record(peer.to_bytes(), decode_neighbors(answer))

    def _ping_missed(self, nursery: trio.Nursery, peer: Any, why: str) -> None:
        """Count a missed ping; close the connection of a peer that missed too many in a row."""
        pid = peer.to_base58()
        self.counters["pings_failed"] += 1
        if not self.is_connected(peer):
            return  # the connection is gone: a stranger's entry must not come back (on_connection_change)
        health = self._health.setdefault(pid, PeerHealth())
        health.ping_failures += 1
        log.debug("ping %s failed (%d): %s", pid, health.ping_failures, why)
        if health.ping_failures >= self._cfg.ping_max_failures:
            log.warning("peer %s missed %d pings: closing its connection", pid, health.ping_failures)
            health.ping_failures = 0
            self._close_soon(nursery, peer)

    async def serve_ping(self, peer_id: str, data: bytes) -> bytes:
        """The ping handler: record the caller's neighbor list, answer with ours."""
        peer = id_from_text(peer_id)
        if self.is_connected(peer):
            self._neighbors.record(peer.to_bytes(), decode_neighbors(data))
        return self._own_neighbors()

    def _own_neighbors(self) -> bytes:
        conns = self._host.get_network().get_connections_map()
        return encode_neighbors([p.to_bytes() for p, c in conns.items() if c])

    def connected_peers(self) -> list[str]:
        """Peer ids with an open connection."""
        return [p.to_base58() for p, conns in self._host.get_network().get_connections_map().items() if conns]

    def peer_info(self) -> list[dict[str, Any]]:
        """See ``Network.peer_info``."""
        out: list[dict[str, Any]] = []
        conns: dict[Any, list[Any]] = self._host.get_network().get_connections_map()
        ids = [p for p, c in conns.items() if c] + [i.peer_id for i in self._static.values()]
        seen: set[str] = set()
        for peer in ids:
            pid = peer.to_base58()
            if pid in seen:
                continue
            seen.add(pid)
            live = conns.get(peer) or []
            try:
                addrs = [str(a) for a in self._host.get_peerstore().addrs(peer)]
            except Exception:  # PeerStoreError: unknown or expired
                addrs = []
            health = self._health.get(pid)
            out.append(
                {
                    "id": pid,
                    "connected": bool(live),
                    "direction": str(getattr(live[0], "direction", "unknown")) if live else None,
                    "remote_addr": remote_addr(live[0]) if live else None,
                    "addrs": addrs,
                    "static": pid in self._static,
                    "rtt_ms": health.rtt_ms if health and live else None,
                    "connected_s": _age(health.connected_at) if health and live else None,
                    "neighbors": sorted(self._text(raw) for raw in self._neighbors.of(peer.to_bytes())),
                }
            )
        return out


def _age(since: float | None) -> float | None:
    return None if since is None else round(trio.current_time() - since, 3)


class _Notifee(INotifee):
    """Forwards connect/disconnect events; must never block (the swarm awaits notifees inline)."""

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def opened_stream(self, network: Any, stream: Any) -> None:
        return None

    async def closed_stream(self, network: Any, stream: Any) -> None:
        return None

    async def connected(self, network: Any, conn: Any) -> None:
        self._peers.on_connection_change(conn.muxed_conn.peer_id, connected=True)

    async def disconnected(self, network: Any, conn: Any) -> None:
        self._peers.on_connection_change(conn.muxed_conn.peer_id, connected=False)

    async def listen(self, network: Any, multiaddr: Any) -> None:
        return None

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        return None
