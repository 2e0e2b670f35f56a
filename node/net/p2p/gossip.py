"""Gossip topics over GossipSub v1.1: validators, own delivery queues, publish back-pressure.

The library's Pubsub and GossipSub are built here with our settings and the workarounds in ``workarounds/``;
``Gossip`` is the node-facing side: one subscription per topic, validated and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11

from node.net.config import NetConfig
from node.net.errors import ConfigError, MessageTooLarge, NetworkError, PublishRejected
from node.net.p2p.host import PeerIdText
from node.net.p2p.lifecycle import Lifecycle
from node.net.p2p.peers import Allowlist
from node.net.p2p.workarounds.blacklist_teardown import SafeBlacklistPubsub
from node.net.p2p.workarounds.buffered_read import BufferedReadPubsub
from node.net.p2p.workarounds.corrupt_frame import CorruptFrameGuardPubsub
from node.net.p2p.workarounds.dead_stream import KeepTopicsPubsub
from node.net.p2p.workarounds.message_id import content_msg_id
from node.net.p2p.workarounds.relay_pruning import RelayPruningGossipSub
from node.net.p2p.workarounds.seqno import start_seqno_from_clock
from node.net.p2p.workarounds.serial_writes import SerialWritePubsub
from node.net.p2p.workarounds.subscription_queue import raise_subscription_queue

if TYPE_CHECKING:
    # libp2p depends on trio-typing, whose stale trio-stubs shadow trio's own inline types for
    # mypy (no trio.TaskStatus there); its TaskStatus is the one mypy accepts.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

Validator = Callable[[str, bytes], bool]

# GossipSub mesh degree (D, D_low, D_high): the go-libp2p defaults; a PoA net has few peers anyway.
_MESH_D, _MESH_D_LOW, _MESH_D_HIGH = 6, 4, 12
_BACKPRESSURE_POLL_S = 0.002


def build_router(config: NetConfig, neighbors_of: Callable[[bytes], frozenset[bytes]]) -> Any:
    """Our GossipSub: v1.1, a fixed short heartbeat, no adaptive gossip, spam or eclipse protection."""
    return RelayPruningGossipSub(
        neighbors_of,
        # ../shared/NOTES.md: v1.2 (IDONTWANT) costs ~2.5x CPU; v1.1 is enough for a small PoA mesh.
        protocols=[PROTOCOL_ID_V11],
        degree=_MESH_D,
        degree_low=_MESH_D_LOW,
        degree_high=_MESH_D_HIGH,
        # Library default 120 s (../shared/NOTES.md). Typed int, but only trio.sleep() reads it once
        # adaptive gossip is off.
        heartbeat_interval=config.heartbeat_s,
        # Adaptive gossip would stretch the heartbeat to 30-60 s whenever the mesh is smaller
        # than D=6, i.e. always in a small PoA network.
        adaptive_gossip_enabled=False,
        # ../shared/NOTES.md: spam protection caps 10 msg/s per (peer, topic), own publishes included.
        spam_protection_enabled=False,
        # Peers are admitted by peer id; several may share one IP (a lab host, an organisation's NAT): grafting
        # for IP diversity can only churn the mesh. (It also needs peer scoring, which we do not configure.)
        eclipse_protection_enabled=False,
    )


class NodePubsub(
    SafeBlacklistPubsub, KeepTopicsPubsub, CorruptFrameGuardPubsub, BufferedReadPubsub, SerialWritePubsub
):
    """The library's Pubsub with our workarounds, counting every gossip copy peers send us."""

    def __init__(self, *args: Any, counters: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counters = counters

    async def push_msg(self, msg_forwarder: Any, msg: Any) -> None:
        if msg_forwarder != self.my_id:
            # Every copy a peer sends, duplicates included: with gossip_delivered it shows relay waste.
            self.counters["gossip_received"] += 1
        await super().push_msg(msg_forwarder, msg)


def build_pubsub(host: Any, router: Any, counters: dict[str, int]) -> NodePubsub:
    """Our Pubsub on ``host`` with ``router``: content-hash message ids, clock-based seqnos."""
    pubsub = NodePubsub(
        host,
        router,
        # Same payload from two publishers = one message (../shared/NOTES.md).
        msg_id_constructor=content_msg_id,
        counters=counters,
    )
    start_seqno_from_clock(pubsub)
    return pubsub


@dataclass(slots=True)
class _Topic:
    send: trio.MemorySendChannel[tuple[str, bytes]]
    validator: Validator | None
    pumping: bool = False


class Gossip:
    """Our topics: subscribe with a validator, publish with back-pressure, deliver without echo."""

    def __init__(
        self,
        config: NetConfig,
        pubsub: Any,
        *,
        own_id: Any,
        allowlist: Allowlist,
        peer_text: PeerIdText,
        lifecycle: Lifecycle,
        counters: dict[str, int],
    ) -> None:
        self._cfg = config
        self._pubsub = pubsub
        self._id = own_id
        self._id_bytes: bytes = own_id.to_bytes()
        self._peer_id: str = own_id.to_base58()
        self._allowlist = allowlist
        self._text = peer_text
        self._life = lifecycle
        self.counters = counters
        self._topics: dict[str, _Topic] = {}
        self._stalled_since: dict[Any, float] = {}

    def subscribe(
        self, topic: str, validator: Validator | None, buffer: int
    ) -> trio.MemoryReceiveChannel[tuple[str, bytes]]:
        """See ``Network.subscribe``."""
        if topic in self._topics:
            raise NetworkError(f"already subscribed to {topic!r}")
        if buffer < 1:
            raise ConfigError("buffer", "must be >= 1")
        send, recv = trio.open_memory_channel[tuple[str, bytes]](buffer)
        self._topics[topic] = _Topic(send, validator)
        # ../shared/NOTES.md: a SYNC validator that raises crashes Pubsub and the whole nursery: wrap it.
        self._pubsub.set_topic_validator(topic, partial(self._validate, topic), False)
        nursery = self._life.running_nursery()
        if nursery is not None:
            nursery.start_soon(self._pump, topic)
        elif self._life.state == "stopped":
            send.close()
        return recv

    async def start_pumps(self, nursery: trio.Nursery) -> None:
        """Start delivering every topic subscribed so far (called once the stack runs)."""
        for topic in list(self._topics):
            await nursery.start(self._pump, topic)

    def close(self) -> None:
        """End every subscription: consumers see EndOfChannel."""
        for t in self._topics.values():
            t.send.close()

    def forget_peer(self, peer: Any) -> None:
        """A peer went away: its queue no longer holds publishing back."""
        self._stalled_since.pop(peer, None)

    def _validate(self, topic: str, forwarder: Any, msg: Any) -> bool:
        try:
            data: bytes = msg.data
            if len(data) > self._cfg.max_message_bytes:
                return False
            origin: bytes = msg.from_id
            if origin == self._id_bytes and forwarder == self._id:
                return True  # our own publish: publish() already ran the validator
            allow = self._allowlist
            if not allow.is_open and not (
                allow.permits(self._text(forwarder.to_bytes())) and allow.permits(self._text(origin))
            ):
                return False
            t = self._topics.get(topic)
            if t is None or t.validator is None:
                return True
            return bool(t.validator(self._text(origin), data))
        except Exception:
            log.exception("gossip validator for %r raised; message rejected", topic)
            return False

    async def _pump(self, topic: str, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Move messages from py-libp2p's subscription queue to ours, promptly.

        ../shared/NOTES.md: the library drops (with a log line) once its queue is full, so we drain it
        eagerly and apply our own, counted, drop policy.
        """
        t = self._topics[topic]
        if t.pumping:
            task_status.started()
            return
        t.pumping = True
        raise_subscription_queue()
        sub = await self._pubsub.subscribe(topic)
        task_status.started()
        while True:
            try:
                msg = await sub.get()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            if msg.from_id == self._id_bytes:
                continue  # the publisher receives its own messages (../shared/NOTES.md)
            try:
                t.send.send_nowait((self._text(msg.from_id), msg.data))
                self.counters["gossip_delivered"] += 1
            except trio.WouldBlock:
                self.counters["gossip_dropped_slow_consumer"] += 1
                log.warning(
                    "subscriber of %r is %d messages behind: dropping",
                    topic,
                    t.send.statistics().current_buffer_used,
                )
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                log.info("subscriber of %r went away: unsubscribing", topic)
                await self._pubsub.unsubscribe(topic)
                return

    async def publish(self, topic: str, data: bytes) -> None:
        """See ``Network.publish``."""
        if len(data) > self._cfg.max_message_bytes:
            raise MessageTooLarge(len(data), self._cfg.max_message_bytes)
        self._life.require_running("publish")
        t = self._topics.get(topic)
        if t is not None and t.validator is not None:
            try:
                ok = bool(t.validator(self._peer_id, data))
            except Exception as exc:
                raise PublishRejected(topic, f"validator raised {type(exc).__name__}: {exc}") from exc
            if not ok:
                raise PublishRejected(topic, "validator returned False")
        await self._wait_for_peer_queues()
        await self._pubsub.publish(topic, data)

    async def _wait_for_peer_queues(self) -> None:
        """../shared/NOTES.md: publishing faster than peers drain is lost silently; wait for the queues instead.

        A peer whose queue stays full for backpressure_timeout_s stops counting (it is probably
        frozen; liveness pings will close it) so one dead peer cannot stall the node.
        """
        high_water = self._cfg.peer_queue_size // 2
        waited = False
        while True:
            now = trio.current_time()
            blocking = False
            for peer, queue in list(self._pubsub.peer_queues.items()):
                if len(queue) < high_water:
                    self._stalled_since.pop(peer, None)
                    continue
                since = self._stalled_since.setdefault(peer, now)
                if now - since < self._cfg.backpressure_timeout_s:
                    blocking = True
            if not blocking:
                return
            if not waited:
                waited = True
                self.counters["publish_backpressure_waits"] += 1
            await trio.sleep(_BACKPRESSURE_POLL_S)
