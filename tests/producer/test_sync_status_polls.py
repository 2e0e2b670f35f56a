"""Sync asks a peer for its head only when it has not heard from it within a status interval."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import trio
import trio.testing

from node.producer import wire
from node.producer.sync import BlockSync, SyncConfig, SyncError


class _Peers:
    """Connected peers that answer status requests with a fixed height and record who was asked."""

    def __init__(self, peers: list[str], height: int) -> None:
        self.peers = peers
        self.height = height
        self.asked: list[str] = []

    def connected_peers(self) -> list[str]:
        return list(self.peers)

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float) -> bytes:
        assert protocol == wire.STATUS_PROTOCOL
        self.asked.append(peer_id)
        return wire.encode(wire.Status(self.height, b"\x11" * 32))


async def _no_import(peer: str, pairs: Any) -> int:
    raise AssertionError("nothing to import here")


async def test_only_peers_not_heard_from_within_an_interval_are_asked(
    autojump_clock: trio.testing.MockClock,
) -> None:
    chain = SimpleNamespace(head=SimpleNamespace(height=7))
    peers = _Peers(["a", "b", "c"], height=8)
    config = SyncConfig(status_interval_ms=1_000, settled_status_interval_ms=10_000)
    sync = BlockSync(chain, peers, config, _no_import)  # type: ignore[arg-type]

    sync.note_peer_height("a", 8)  # a's vote for height 9 told us its head
    await sync.poll_status()
    assert sorted(peers.asked) == ["b", "c"]  # heads we did not know

    peers.asked.clear()
    await trio.sleep(0.5)
    await sync.poll_status()  # everyone answered or voted half an interval ago
    assert peers.asked == []

    await trio.sleep(0.6)
    sync.note_peer_height("a", 6)  # an older height still shows a is alive; its head stays 8
    await sync.poll_status()
    assert sorted(peers.asked) == ["b", "c"]  # ahead of us: asked again every status interval
    assert sync.stats.peers["a"].height == 8


async def test_peers_level_with_us_are_asked_only_every_settled_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # An idle chain: no votes between its empty blocks, and every peer's head is ours.
    chain = SimpleNamespace(head=SimpleNamespace(height=7))
    peers = _Peers(["a", "b"], height=7)
    config = SyncConfig(status_interval_ms=1_000, settled_status_interval_ms=10_000)
    sync = BlockSync(chain, peers, config, _no_import)  # type: ignore[arg-type]
    await sync.poll_status()
    assert sorted(peers.asked) == ["a", "b"]

    peers.asked.clear()
    for _ in range(9):
        await trio.sleep(1.0)
        await sync.poll_status()
    assert peers.asked == []  # 9 s: each peer is known to be level, and was heard from within 10 s

    await trio.sleep(1.1)
    peers.height = 9  # meanwhile they moved on (say, we were cut off from their votes)
    await sync.poll_status()
    assert sorted(peers.asked) == ["a", "b"]
    assert sync.best_peer_height() == 9

    peers.asked.clear()
    await trio.sleep(1.1)
    await sync.poll_status()  # ahead of us now: asked every status interval again
    assert sorted(peers.asked) == ["a", "b"]


class _Serving(_Peers):
    """Peers ahead of us that also serve blocks (one batch per sync request), counting the batches."""

    def __init__(self, peers: list[str], height: int) -> None:
        super().__init__(peers, height)
        self.fetched: list[str] = []

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float) -> bytes:
        if protocol == wire.STATUS_PROTOCOL:
            return await super().request(peer_id, protocol, data, timeout_s)
        self.fetched.append(peer_id)
        return wire.encode(wire.SyncResponse(((b"block", b"commit"),)))


async def test_a_peer_whose_blocks_we_refuse_is_asked_again_only_after_a_growing_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A node that cannot accept the chain's blocks (its clock far behind): every commit notice pokes the sync.
    chain = SimpleNamespace(head=SimpleNamespace(height=7))
    peers = _Serving(["a"], height=50)

    async def refuse(peer: str, pairs: Any) -> int:
        raise SyncError(peer, "time is too far in the future", 8)

    sync = BlockSync(chain, peers, SyncConfig(status_interval_ms=1_000), refuse)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(sync.run)
        for _ in range(300):  # 30 s of commit notices, ten a second
            sync.note_peer_height("a", 50, urgent=True)
            await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    # Backoff 1, 2, 4, 8, 16 s: a handful of batches in 30 s, not one per notice (~300).
    assert 3 <= len(peers.fetched) <= 7, peers.fetched
    assert sync.stats.failures == len(peers.fetched)
