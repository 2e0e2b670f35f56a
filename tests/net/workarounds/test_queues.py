"""The library's 32-deep subscription and per-peer queues are raised, never lowered."""

from __future__ import annotations

import pytest
import trio
from libp2p.pubsub import pubsub as pubsub_module
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import RpcQueue

from node.net.p2p.workarounds.peer_queue import raise_peer_queue
from node.net.p2p.workarounds.subscription_queue import raise_subscription_queue


def test_subscription_queue_is_raised_and_never_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pubsub_module, "SUBSCRIPTION_CHANNEL_SIZE", 32)
    assert raise_subscription_queue(4096) == 4096
    assert pubsub_module.SUBSCRIPTION_CHANNEL_SIZE == 4096
    assert raise_subscription_queue(100) == 4096


class _Pubsub:
    def __init__(self, peer: str, queue: RpcQueue, *, ready: bool = True) -> None:
        self.peer_queues = {peer: queue}
        self._ready = ready

    async def wait_for_peer(self, peer: str, timeout: float) -> None:
        if not self._ready:
            raise trio.TooSlowError


def _fill(queue: RpcQueue, n: int) -> int:
    return sum(queue.push(rpc_pb2.RPC()) for _ in range(n))


async def test_peer_queue_holds_the_configured_size() -> None:
    queue = RpcQueue()
    assert _fill(RpcQueue(), 100) == 32  # the library's default drops past 32
    assert await raise_peer_queue(_Pubsub("p", queue), "p", 1024) is True
    assert _fill(queue, 2000) == 1024


async def test_peer_queue_is_never_lowered() -> None:
    queue = RpcQueue()
    await raise_peer_queue(_Pubsub("p", queue), "p", 1024)
    assert await raise_peer_queue(_Pubsub("p", queue), "p", 64) is True
    assert _fill(queue, 2000) == 1024


async def test_peer_whose_stream_never_opens_is_left_alone() -> None:
    queue = RpcQueue()
    assert await raise_peer_queue(_Pubsub("p", queue, ready=False), "p", 1024, timeout_s=0.01) is False
    assert await raise_peer_queue(_Pubsub("p", queue), "someone else", 1024) is False
    assert _fill(queue, 100) == 32
