"""Per-peer penalties for bad gossip: a decaying count of the invalid or non-member transactions each peer
originated, and the verdict to ban a peer once its count crosses a threshold.

Sans-IO: the producer reports what admission refused, the node asks the network to ban (``Network.ban``).
GossipSub's own peer scoring cannot do this in py-libp2p 0.8.1: its invalid-message counter (P4) only counts
topic-validator rejections, while a batch's transactions are admitted after delivery (a validator that recovered
every signature inline would hold the library's read loop); the application score (P6) is left out of the gate
that accepts a peer's messages (``allow_publish``); and it scores the neighbour that forwarded a message, so an
honest relay would pay for a rogue origin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PenaltyPolicy:
    """When a peer is banned: more than ``threshold`` bad transactions (each one's weight halving every
    ``half_life_s``), then for ``ban_s`` seconds."""

    # An honest peer relays only what its own admission took: it sends a bad one only in a race (a sender's
    # organisation suspended by the block this node committed first), a handful at a time.
    threshold: float = 100.0
    half_life_s: float = 60.0
    ban_s: float = 600.0


class PeerPenalties:
    """Decaying bad-transaction counts by peer id (bounded: the oldest peers are forgotten past ``max_peers``)."""

    def __init__(
        self,
        policy: PenaltyPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_peers: int = 10_000,
    ) -> None:
        self.policy = policy or PenaltyPolicy()
        self._clock = clock
        self._max_peers = max_peers
        self._scores: dict[str, tuple[float, float]] = {}  # peer -> (score, as of)

    def score(self, peer: str) -> float:
        """The peer's current, decayed count."""
        entry = self._scores.get(peer)
        if entry is None:
            return 0.0
        value, since = entry
        elapsed = max(0.0, self._clock() - since)
        return value * math.pow(0.5, elapsed / self.policy.half_life_s)

    def report(self, peer: str, bad: int) -> bool:
        """Count ``bad`` transactions from ``peer``; True once it crosses the threshold (then it starts over)."""
        if bad <= 0:
            return False
        value = self.score(peer) + bad
        self._scores.pop(peer, None)  # re-inserted last: the dict's order is oldest report first
        if value > self.policy.threshold:
            return True
        if len(self._scores) >= self._max_peers:
            del self._scores[next(iter(self._scores))]
        self._scores[peer] = (value, self._clock())
        return False
