"""Per-peer penalties (node/net/penalties.py): decaying counts, the ban verdict, bounded memory."""

from __future__ import annotations

import pytest

from node.net.penalties import PeerPenalties, PenaltyPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_peer_is_banned_once_its_bad_transactions_cross_the_threshold() -> None:
    clock = Clock()
    penalties = PeerPenalties(PenaltyPolicy(threshold=10, half_life_s=60), clock)
    assert not penalties.report("rogue", 6)
    assert not penalties.report("rogue", 4)  # 10: at the threshold, not past it
    assert penalties.score("rogue") == 10
    assert penalties.report("rogue", 1)
    assert penalties.score("rogue") == 0  # banned: it starts over
    assert not penalties.report("honest", 0) and penalties.score("honest") == 0


def test_counts_decay_with_the_half_life() -> None:
    clock = Clock()
    penalties = PeerPenalties(PenaltyPolicy(threshold=10, half_life_s=60), clock)
    penalties.report("racy", 8)
    clock.now += 60
    assert penalties.score("racy") == pytest.approx(4)
    assert not penalties.report("racy", 6)  # 4 + 6: a slow trickle of races never bans
    clock.now += 120
    assert penalties.score("racy") == pytest.approx(2.5)


def test_memory_is_bounded_by_forgetting_the_oldest_peer() -> None:
    penalties = PeerPenalties(PenaltyPolicy(threshold=10), Clock(), max_peers=2)
    for peer in ("a", "b", "c"):
        penalties.report(peer, 1)
    assert [penalties.score(p) for p in ("a", "b", "c")] == [0, 1, 1]
