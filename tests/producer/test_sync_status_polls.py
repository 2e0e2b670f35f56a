"""Sync asks a peer for its head only when it has not heard from it within a status interval."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import trio
import trio.testing

from node.producer import wire
from node.producer.sync import BlockSync, SyncConfig


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
    peers = _Peers(["a", "b", "c"], height=7)
    sync = BlockSync(chain, peers, SyncConfig(status_interval_ms=1_000), _no_import)  # type: ignore[arg-type]

    sync.note_peer_height("a", 7)  # a's vote for height 8 told us its head
    await sync.poll_status()
    assert sorted(peers.asked) == ["b", "c"]

    peers.asked.clear()
    await trio.sleep(0.5)
    await sync.poll_status()  # everyone answered or voted half an interval ago
    assert peers.asked == []

    await trio.sleep(0.6)
    sync.note_peer_height("a", 6)  # an older height still shows a is alive; its head stays 7
    await sync.poll_status()
    assert sorted(peers.asked) == ["b", "c"]
    assert sync.stats.peers["a"].height == 7
