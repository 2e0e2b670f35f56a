"""Message sequence numbers from a nanosecond clock: py-libp2p 0.8.1's repeat after a quick restart.

Defect: ``Pubsub.__init__`` (``libp2p/pubsub/pubsub.py``) starts ``self.counter`` at ``int(time.time())`` and
``_next_seqno`` counts up by one per publish. After a quick restart with the same key, the new seqnos reuse ones
that peers still remember from the old run, and GossipSub drops those messages as equivocation (same from+seqno,
other data) and penalises the sender. No py-libp2p issue reports it (searched its tracker); go-libp2p-pubsub and
rust-libp2p start the counter at the Unix time in nanoseconds (rust-libp2p: https://github.com/libp2p/rust-libp2p/pull/3716).

Nanoseconds leave room for 10^9 publishes per second.
"""

from __future__ import annotations

import time
from typing import Any


def start_seqno_from_clock(pubsub: Any) -> int:
    """Start ``pubsub``'s message counter at the current Unix time in nanoseconds; returns it."""
    pubsub.counter = time.time_ns()
    return int(pubsub.counter)
