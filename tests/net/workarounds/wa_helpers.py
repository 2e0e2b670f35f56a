"""Real (not running) libp2p objects for the workaround unit tests."""

from __future__ import annotations

from typing import Any

from node.net import NetConfig
from node.net.p2p.gossip import build_router
from node.net.p2p.host import build_host, key_pair
from node.net.p2p.peers import NeighborLists


def host_and_router(n: int = 1) -> tuple[Any, Any]:
    """A libp2p host and our GossipSub router, built as a Network builds them, not started."""
    host = build_host(NetConfig(), key_pair(bytes([n]) * 32))
    return host, build_router(NetConfig(), NeighborLists().of)
