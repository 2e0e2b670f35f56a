"""A deeper subscription queue: py-libp2p 0.8.1 drops gossip once a topic's 32-deep queue is full.

Defect: ``Pubsub.subscribe`` (``libp2p/pubsub/pubsub.py``) opens each topic's channel with the module constant
``SUBSCRIPTION_CHANNEL_SIZE = 32``, with no constructor option, and many concurrent ``push_msg`` tasks fill it with
``send_nowait``, dropping (with a log line) once it is full. A burst overflows it before the node's pump task is
scheduled (seen in benchmarks; ../shared/NOTES.md: "subscription channel 32 deep"). No upstream issue asks to make
it configurable (searched the py-libp2p tracker); go-libp2p-pubsub has the same default with an option
(``WithBufferSize``), which projects raise, e.g. https://github.com/wormhole-foundation/wormhole/pull/3185.

The constant is read at subscribe time, so it is raised (process-wide, never lowered) just before subscribing.
The node still drains the queue eagerly and applies its own, counted, drop policy.
"""

from __future__ import annotations

from libp2p.pubsub import pubsub as _pubsub_module

# Deep enough for a burst of block-sized gossip while the pump task waits for its turn.
SUBSCRIPTION_QUEUE = 4096


def raise_subscription_queue(size: int = SUBSCRIPTION_QUEUE) -> int:
    """Make topics subscribed from now on queue at least ``size`` messages; returns the size in force."""
    _pubsub_module.SUBSCRIPTION_CHANNEL_SIZE = max(_pubsub_module.SUBSCRIPTION_CHANNEL_SIZE, size)
    return int(_pubsub_module.SUBSCRIPTION_CHANNEL_SIZE)
