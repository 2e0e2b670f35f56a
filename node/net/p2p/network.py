"""``Network``: a libp2p node driven by one ``run()``: gossip topics plus request/response, peers kept up.

It wires the parts together: the host (``host.py``), gossip (``gossip.py``), request/response (``requests.py``) and
peer policy (``peers.py``), with the py-libp2p 0.8.1 workarounds in ``workarounds/``. Every library default we
change is changed for a measured reason (../shared/NOTES.md "py-libp2p 0.8.1" and docs/adr/0006-p2p-libp2p.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from node.net.config import NetConfig, parse_listen_addr, parse_peer_addr
from node.net.errors import NetworkError
from node.net.p2p.gossip import Gossip, Validator, build_pubsub, build_router
from node.net.p2p.host import PeerIdText, build_host, dial_addr, id_from_text, key_pair, listen_addr
from node.net.p2p.lifecycle import Lifecycle
from node.net.p2p.peers import PING_PROTOCOL, Allowlist, NeighborLists, Peers
from node.net.p2p.requests import Handler, Requests
from node.net.p2p.workarounds.listen_addrs import freeze_listen_addrs
from node.net.p2p.workarounds.port_check import check_port_free
from node.net.p2p.workarounds.shielded_stack import shielded_stack, stack_scope
from node.net.p2p.workarounds.stuck_close import close_connections

if TYPE_CHECKING:
    # libp2p depends on trio-typing, whose stale trio-stubs shadow trio's own inline types for
    # mypy (no trio.TaskStatus there); its TaskStatus is the one mypy accepts.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

_SHUTDOWN_S = 3.0


class Network:
    """A libp2p node: gossip topics + request/response, driven by :meth:`run`.

    ``subscribe`` and ``set_request_handler`` may be called before or after ``run()`` starts.
    Subscriptions made before ``run()`` are active when ``run()`` reports started; one made while
    running becomes active a scheduler tick later. ``run()`` may be called once per instance; to
    restart, build a new Network with the same seed and port.
    """

    def __init__(self, config: NetConfig, node_key_seed: bytes) -> None:
        self._cfg = config
        self._listen = parse_listen_addr(config.listen)
        keys = key_pair(node_key_seed)
        own_id: Any = ID.from_pubkey(keys.public_key)
        self.peer_id: str = own_id.to_base58()
        self.listen_addrs: list[str] = []

        static: dict[str, Any] = {}
        for addr in config.peers:
            tcp, pid = parse_peer_addr(addr)
            if pid == self.peer_id:
                continue  # a shared peer list may name ourselves
            static[pid] = PeerInfo(id_from_text(pid), [dial_addr(tcp)])
        # Static peers are always allowed; an empty allowlist means anyone.
        allowlist = Allowlist(config.allowlist, static, self.peer_id)
        self._allowlist = allowlist

        self.counters: dict[str, int] = {
            "gossip_delivered": 0,
            "gossip_dropped_slow_consumer": 0,
            "publish_backpressure_waits": 0,
            "requests_served": 0,
            "requests_handler_errors": 0,
            "pings_failed": 0,
            "pings_wedged": 0,
            "requests_hung": 0,
            "peers_rejected": 0,
            "peers_evicted": 0,
            "gossip_received": 0,
            "peers_banned": 0,
            "gossip_stuck_resets": 0,
        }
        self._life = Lifecycle()
        self._stack_scope = stack_scope()
        peer_text = PeerIdText()
        neighbors = NeighborLists()
        self._host: Any = build_host(config, keys)
        self._router: Any = build_router(config, neighbors.of)
        self._pubsub: Any = build_pubsub(self._host, self._router, self.counters)
        self._requests = Requests(
            config, self._host, allowlist=allowlist, lifecycle=self._life, counters=self.counters
        )
        self._gossip = Gossip(
            config,
            self._pubsub,
            own_id=own_id,
            allowlist=allowlist,
            peer_text=peer_text,
            lifecycle=self._life,
            counters=self.counters,
        )
        self._peers = Peers(
            config,
            self._host,
            self._pubsub,
            static=static,
            allowlist=allowlist,
            neighbors=neighbors,
            peer_text=peer_text,
            lifecycle=self._life,
            counters=self.counters,
            request=self._requests.request,
            on_disconnect=self._gossip.forget_peer,
        )
        self._requests.set_handler(PING_PROTOCOL, self._peers.serve_ping)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, subscribe, keep static peers connected; until cancelled, then shut down cleanly.

        ``task_status.started()`` receives the first address we announce (``external_addrs[0]`` if set, else the
        listen address) with its ``/p2p/<peer id>`` suffix; ``listen_addrs`` holds them all.
        Shutdown (on cancellation) closes every connection and the listener within ~3 s.
        """
        if self._life.state != "new":
            raise NetworkError("Network.run() may be called only once per instance")
        self._life.state = "starting"
        try:
            check_port_free(self._listen.host, self._listen.port)
            if self._listen.is_wildcard and not self._cfg.external_addrs:
                log.warning(
                    "event=p2p_wildcard_without_external_addrs listen=%s: peers are told %s, which they cannot "
                    "dial; set p2p.external_addrs",
                    self._cfg.listen,
                    self._cfg.listen,
                )
            async with trio.open_nursery() as outer:
                addr = await outer.start(self._run_stack)
                task_status.started(addr)
                try:
                    await trio.sleep_forever()
                finally:
                    self._begin_shutdown()
        finally:
            self._life.state = "stopped"
            self._life.nursery = None
            self._gossip.close()

    def _begin_shutdown(self) -> None:
        """Stop our own tasks; the stack then closes the host, bounded by a deadline."""
        self._life.state = "stopping"
        if self._life.nursery is not None:
            self._life.nursery.cancel_scope.cancel()
        self._stack_scope.deadline = trio.current_time() + _SHUTDOWN_S

    async def _run_stack(self, *, task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """The libp2p services, shielded from outside cancellation (``workarounds/shielded_stack.py``)."""
        async with shielded_stack(
            self._stack_scope, self._host, listen_addr(self._cfg), self._pubsub, self._router
        ):
            # The library auto-connector dials every peerstore entry (strangers included) to
            # reach 150 connections and logs at INFO every 10 s; we dial static peers only.
            await self._host.get_network().auto_connector.stop()
            # ../shared/NOTES.md: a Pubsub constructed but not started makes every connect() hang.
            await self._pubsub.wait_until_ready()
            self.listen_addrs = [str(a) for a in freeze_listen_addrs(self._host)]
            async with trio.open_nursery() as nursery:
                self._life.nursery = nursery
                self._life.state = "running"
                await self._gossip.start_pumps(nursery)
                self._peers.start(nursery)
                task_status.started(self.listen_addrs[0])
                await trio.sleep_forever()
            self._life.nursery = None

    # ------------------------------------------------------------------ peers

    def connected_peers(self) -> list[str]:
        """Peer ids with an open connection."""
        return self._peers.connected_peers()

    def set_members(self, peer_ids: Iterable[str] | None) -> int:
        """Admit only ``peer_ids`` (the on-chain members) and the configured allowlist from now on, or, with None,
        return to the open network. Connections no longer allowed are closed at once (in the background; see
        ``Allowlist``); returns how many. May be called before or while ``run()`` runs."""
        if not self._allowlist.set_members(peer_ids):
            return 0
        return self._peers.enforce_allowlist()

    def mesh_peers(self, topic: str) -> list[str]:
        """Peers we exchange full messages with on ``topic`` (the GossipSub mesh)."""
        return sorted(p.to_base58() for p in self._router.mesh.get(topic, ()))

    def peer_info(self) -> list[dict[str, Any]]:
        """Connected and static peers, for RPC ``admin_peers``.

        Each dict: ``id``, ``connected``, ``direction`` ("inbound"/"outbound"/None),
        ``remote_addr`` (the connection's far end, or None), ``addrs`` (known listen multiaddrs),
        ``static``, ``rtt_ms`` (last ping round trip, or None), ``connected_s`` (how long the connection has been
        up, or None: a peer that refuses us shows up only briefly, as it closes at once), ``neighbors`` (the peer ids it last reported
        being connected to: gossip is not relayed to it for messages from those).
        """
        return self._peers.peer_info()

    def ban(self, peer_id: str, seconds: float) -> None:
        """Drop ``peer_id`` for ``seconds``: close its connection, drop every message it originates or forwards
        (py-libp2p's pubsub blacklist) and refuse its connections until the ban ends. No effect unless running.
        """
        if peer_id == self.peer_id or self._life.nursery is None:
            return
        peer = id_from_text(peer_id)
        if self._pubsub.is_peer_blacklisted(peer):
            return
        self._pubsub.add_to_blacklist(peer)
        self.counters["peers_banned"] += 1
        log.warning("event=peer_banned peer=%s seconds=%g", peer_id, seconds)
        self._life.nursery.start_soon(self._ban_for, peer, seconds)

    async def _ban_for(self, peer: Any, seconds: float) -> None:
        await close_connections(self._host, peer, _SHUTDOWN_S)
        await trio.sleep(seconds)
        self._pubsub.remove_from_blacklist(peer)
        log.info("event=peer_unbanned peer=%s", peer.to_base58())

    # ------------------------------------------------------------------ gossip

    def subscribe(
        self, topic: str, validator: Validator | None = None, buffer: int = 1024
    ) -> trio.MemoryReceiveChannel[tuple[str, bytes]]:
        """Receive ``(from_peer_id, data)`` for every valid message on ``topic`` published by others.

        ``validator(originator_peer_id, data) -> bool`` runs before a message is delivered or
        relayed; False drops it (and py-libp2p caches the verdict per payload for 5 minutes, so
        reject only what is provably bad). An exception counts as False. Oversized payloads and
        messages from peers outside the allowlist are dropped. If the consumer falls ``buffer``
        messages behind, further messages are dropped and counted (gossip_dropped_slow_consumer).
        One subscription per topic.
        """
        return self._gossip.subscribe(topic, validator, buffer)

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic`` to the mesh.

        Raises MessageTooLarge above ``max_message_bytes`` (the library would drop it silently),
        PublishRejected if our own validator for the topic says no, NotRunning before run().
        Waits (back-pressure) while any peer's outbound queue is half full, for at most
        ``backpressure_timeout_s`` per stalled peer. An identical payload published again within
        ~2 minutes is deduplicated (message ids are content hashes).
        """
        await self._gossip.publish(topic, data)

    # ------------------------------------------------------------------ request / response

    def set_request_handler(self, protocol: str, handler: Handler) -> None:
        """Serve ``protocol`` (e.g. "/vaxchain/sync/1"): ``await handler(peer_id, request) -> response``.

        A handler that raises makes the caller's request() fail with RequestFailed; the server
        keeps running. Requests above max_request_bytes and responses above max_response_bytes are
        refused. Replacing a handler is allowed.
        """
        self._requests.set_handler(protocol, handler)

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float = 10.0) -> bytes:
        """Send one request to a connected peer and return its response.

        Raises RequestFailed(peer_id, reason) on timeout, disconnect, unsupported protocol,
        an oversized response or a handler error on the remote side; MessageTooLarge if ``data``
        exceeds max_request_bytes; NotRunning before run().
        """
        return await self._requests.request(peer_id, protocol, data, timeout_s)
