"""Relay pruning: a full mesh of n validators delivers each gossip message n-1 times in py-libp2p 0.8.1.

Defect: ``GossipSub._get_peers_to_send`` (``libp2p/pubsub/gossipsub.py``) relays every message to every mesh peer
except the one it came from and the origin, so in a full mesh each node gets a message once from the origin and
once more from every other peer. Each copy costs a Noise decryption, Yamux framing and a protobuf parse before the
seen-cache drops it: measured on 4 processes, about 1/3 of a loaded node's CPU. The spec's remedy is GossipSub
v1.2's IDONTWANT, which py-libp2p implements but which costs ~2.5x the CPU of v1.1 there (../shared/NOTES.md,
"py-libp2p 0.8.1"). Our own publishes are also sent to mesh peers only, where go-libp2p floods them to every peer on
the topic (GossipSub v1.1 "flood publishing"; py-libp2p has no option for it: upstream issue
https://github.com/libp2p/py-libp2p/issues/941 asks for flood publishing, PR
https://github.com/libp2p/py-libp2p/pull/939 was closed unmerged). There is no upstream issue for relaying to peers
that already have a message from its origin; this is our own protocol on top.

Peers tell each other whom they are connected to in their liveness pings (``encode_neighbors``), both ways, and
ping at once when their connections change; a peer that has not told us yet is relayed to as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from libp2p.pubsub.gossipsub import GossipSub

# A ping answer lists at most this many peers; a PoA network has a few dozen.
MAX_ADVERTISED_NEIGHBORS = 512


def encode_neighbors(peer_ids: list[bytes]) -> bytes:
    """A ping answer: the raw ids of the peers we are connected to, each behind a one-byte length."""
    return b"".join(bytes((len(raw),)) + raw for raw in peer_ids[:MAX_ADVERTISED_NEIGHBORS] if len(raw) < 256)


def decode_neighbors(data: bytes) -> frozenset[bytes]:
    """The ids in a ping answer; empty for anything malformed (then nothing is pruned for that peer)."""
    out: set[bytes] = set()
    at = 0
    while at < len(data):
        size = data[at]
        raw = data[at + 1 : at + 1 + size]
        if size == 0 or len(raw) != size or len(out) >= MAX_ADVERTISED_NEIGHBORS:
            return frozenset()
        out.add(raw)
        at += 1 + size
    return frozenset(out)


def prune_relay_targets(
    peers: set[Any],
    *,
    my_id: Any,
    forwarder: Any,
    origin: Any,
    topic_peers: Iterable[Collection[Any]],
    neighbors_of: Callable[[bytes], frozenset[bytes]],
) -> set[Any]:
    """Whom to send a message to, given the peers the library picked.

    Our own message goes to every peer on its topics (flood publish). A message we relay straight from its
    origin skips the peers that told us they are connected to that origin. Anything else is left as it is.
    """
    if forwarder == my_id:
        out = set(peers)
        for on_topic in topic_peers:
            out.update(on_topic)
        out.discard(my_id)
        return out
    if forwarder == origin:
        origin_raw = origin.to_bytes()
        return {peer for peer in peers if origin_raw not in neighbors_of(peer.to_bytes())}
    return peers


class RelayPruningGossipSub(GossipSub):
    """GossipSub that floods our own messages to the topic and does not relay to peers connected to the origin."""

    def __init__(self, neighbors_of: Callable[[bytes], frozenset[bytes]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._neighbors_of = neighbors_of

    def _get_peers_to_send(
        self, topic_ids: Any, msg_forwarder: Any, origin: Any, msg_id: bytes | None = None
    ) -> set[Any]:
        peers = set(super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id))
        pubsub = self.pubsub
        if pubsub is None:
            return peers
        return prune_relay_targets(
            peers,
            my_id=pubsub.my_id,
            forwarder=msg_forwarder,
            origin=origin,
            topic_peers=(
                pubsub.peer_topics.get(topic, ()) for topic in topic_ids
            ),  # read for own messages only
            neighbors_of=self._neighbors_of,
        )
