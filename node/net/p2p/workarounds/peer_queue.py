"""A deeper per-peer outbound queue: py-libp2p 0.8.1 drops RPCs silently once a peer's 32-RPC queue is full.

Defect: ``Pubsub._handle_new_peer`` (``libp2p/pubsub/pubsub.py``) creates each peer's ``RpcQueue()``
(``libp2p/pubsub/rpc_queue.py``) with its default ``max_size`` of 32 RPCs and no constructor option; a full queue
rejects new RPCs and ``publish()`` still returns normally (../shared/NOTES.md: "Publishing faster than peers drain
is lost SILENTLY"). The queue came with https://github.com/libp2p/py-libp2p/pull/1263; go-libp2p-pubsub has an
option for its size (https://github.com/libp2p/go-libp2p-pubsub/pull/230), py-libp2p has none and no issue asks for
one (searched the py-libp2p tracker).

The queue exists only once the pubsub stream to the peer is open, so it is resized then. The node also applies
back-pressure on publish while any queue is half full (``gossip.Gossip.publish``).
"""

from __future__ import annotations

from typing import Any

import trio

# How long to wait for a new connection's pubsub stream before leaving its queue as the library made it.
STREAM_WAIT_S = 10.0


async def raise_peer_queue(pubsub: Any, peer: Any, size: int, *, timeout_s: float = STREAM_WAIT_S) -> bool:
    """Wait for ``peer``'s outbound queue in ``pubsub``, then let it hold at least ``size`` RPCs.

    Returns whether the queue holds ``size`` or more now; False if the stream did not open within ``timeout_s``.
    """
    try:
        await pubsub.wait_for_peer(peer, timeout=timeout_s)
    except trio.TooSlowError:
        return False
    inner = getattr(pubsub.peer_queues.get(peer), "_queue", None)
    if inner is None:
        return False
    if getattr(inner, "max_size", 0) < size:
        inner.max_size = size
    return True
