"""A peer keeps its topics when one of its streams dies: py-libp2p 0.8.1 forgets them while it is still connected.

Defect: ``Pubsub._handle_dead_peer`` (``libp2p/pubsub/pubsub.py``) runs whenever one pubsub stream of a peer fails
or one of its connections closes, and first forgets all the peer's subscriptions (``_forget_all_subscriptions``).
If the peer is still connected — the other of two simultaneous dials survived, or the old connection of a
restarted peer is noticed dead after the new one came up — the library re-opens its own outbound stream, but the
peer announced its subscriptions once, on its outbound stream, which is alive and never repeats them. From then on
the peer is in no topic: GossipSub never grafts it and queues every message for it ("pending message queue for peer
… exceeded limit" in the log, ``_pending_messages``) until the connection ends. A validator cut off this way gets
no proposals or votes by gossip; seen in the lab's soak after partitions heal and peers restart (ADR 0013). No
upstream issue reports it (searched the py-libp2p tracker for ``_forget_all_subscriptions`` and pending messages).

Here, when the peer is still connected (and not blacklisted), the topics it had are kept across the clean-up.
``gossip_stuck`` is the safety net for anything else that leaves a peer unreachable by gossip: the node closes
such a connection, and the redial of a static peer starts both sides afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from libp2p.pubsub.pubsub import Pubsub


def keep_topics_across(
    peer_topics: MutableMapping[str, set[Any]],
    peer_id: Any,
    still_connected: bool,
    library_clean_up: Callable[[Any], None],
) -> set[str]:
    """Run the library's dead-peer clean-up; if the peer is still connected, give it back its topics.

    Returns the topics given back."""
    kept = {topic for topic, peers in peer_topics.items() if peer_id in peers} if still_connected else set()
    library_clean_up(peer_id)
    for topic in kept:
        peer_topics.setdefault(topic, set()).add(peer_id)
    return kept


def stuck_peers(pending: Mapping[Any, list[tuple[float, Any]]], older_than_s: float, now: float) -> list[Any]:
    """Peers the router has held gossip for longer than ``older_than_s`` (it cannot send to them).

    ``pending`` is GossipSub's ``_pending_messages``: (enqueue time, RPC) per peer, normally drained within the
    moment it takes a new peer to announce its subscriptions."""
    return [peer for peer, queue in pending.items() if queue and now - queue[0][0] > older_than_s]


def gossip_stuck(router: Any, older_than_s: float) -> list[Any]:
    """See ``stuck_peers``, for a live GossipSub router."""
    return stuck_peers(getattr(router, "_pending_messages", {}), older_than_s, time.time())


class KeepTopicsPubsub(Pubsub):
    """Pubsub that does not forget the topics of a peer still connected when one of its streams dies."""

    def _handle_dead_peer(self, peer_id: Any) -> None:
        still_connected = self._peer_is_connected(peer_id) and peer_id not in self.blacklisted_peers
        kept = keep_topics_across(self.peer_topics, peer_id, still_connected, super()._handle_dead_peer)
        if kept:
            self._peer_subscription_count[peer_id] = len(kept)
