"""A corrupt pubsub frame drops one peer's stream: in py-libp2p 0.8.1 it crashes the whole Pubsub service.

Defect: ``Pubsub.stream_handler`` (``libp2p/pubsub/pubsub.py``) catches ``StreamError``, ``ParseError`` and
``IncompleteReadError`` from ``continuously_read_stream``, but not protobuf's ``DecodeError`` that
``rpc_pb2.RPC.ParseFromString`` raises on a corrupt frame (as interleaved writes produce, see ``serial_writes``);
the exception ends the Pubsub service and with it the node. No upstream issue reports ``DecodeError`` there
(searched the py-libp2p tracker); the neighbouring https://github.com/libp2p/py-libp2p/issues/1120 (fixed by
https://github.com/libp2p/py-libp2p/pull/1117) was the same kind of crash on the write side.

Here a frame that fails to parse resets only that peer's stream and drops the peer from pubsub; the node's redial
loop reconnects it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from libp2p.pubsub.pubsub import Pubsub

log = logging.getLogger(__name__)


async def drop_peer_on_corrupt_frame(
    read_stream: Callable[[Any], Awaitable[None]], stream: Any, drop_peer: Callable[[Any], None]
) -> None:
    """Run ``read_stream(stream)``; if a frame fails to parse, reset the stream and ``drop_peer(peer_id)``."""
    try:
        await read_stream(stream)
    except DecodeError as exc:
        peer_id = stream.muxed_conn.peer_id
        log.warning("event=pubsub_frame_corrupt peer=%s error=%s", peer_id, exc)
        with contextlib.suppress(Exception):
            await stream.reset()
        drop_peer(peer_id)


class CorruptFrameGuardPubsub(Pubsub):
    """Pubsub whose stream readers survive a corrupt frame."""

    async def stream_handler(self, stream: Any) -> None:
        await drop_peer_on_corrupt_frame(super().stream_handler, stream, self._handle_dead_peer)
