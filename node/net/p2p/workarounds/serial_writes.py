"""Serialised pubsub writes: in py-libp2p 0.8.1 two tasks writing RPCs to one peer interleave Yamux frames.

Defect: Pubsub writes RPCs to a peer's stream from several tasks: the per-peer queue writer
(``Pubsub.handle_sending_messages``, ``libp2p/pubsub/pubsub.py``) and GossipSub, which calls ``pubsub.write_msg`` directly
from ``flush_pending_messages`` and ``send_recent_messages`` (``libp2p/pubsub/gossipsub.py``).
``YamuxStream.write`` (``libp2p/stream_muxer/yamux/yamux.py``) splits a large write into frames and takes its
stream lock per frame, waiting for window updates between frames, so two writers interleave frames and the peer
reads garbage (protobuf ``DecodeError``; see ``corrupt_frame``). It crashed whole nodes under the district load
(devnet, 900 KB blocks). Upstream: https://github.com/libp2p/py-libp2p/issues/793 (open: "concurrent read and write
operations on the same Yamux stream can interleave"); its PR https://github.com/libp2p/py-libp2p/pull/794 was closed
unmerged, and https://github.com/libp2p/py-libp2p/pull/1269 (in 0.8.1) serialises frames on the connection, not a
whole write on a stream.

One trio lock per stream, held for a whole RPC, serialises writes.
"""

from __future__ import annotations

from typing import Any

import trio
from libp2p.pubsub.pubsub import Pubsub


class SerialWritePubsub(Pubsub):
    """Pubsub whose RPC writes to one stream never interleave."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_locks: dict[int, trio.Lock] = {}

    async def write_msg(self, stream: Any, rpc_msg: Any) -> bool:
        lock = self._write_locks.setdefault(id(stream), trio.Lock())
        async with lock:
            ok: bool = await super().write_msg(stream, rpc_msg)
        if not ok:
            self._write_locks.pop(id(stream), None)  # the stream is closed: its id may be reused
        return ok
