"""Buffered pubsub reads: py-libp2p 0.8.1 reads each gossip RPC's length prefix one byte at a time.

Defect: ``Pubsub.continuously_read_stream`` (``libp2p/pubsub/pubsub.py``) reads every RPC with
``read_varint_prefixed_bytes_limited`` (``libp2p/utils/varint.py``), which asks the stream for the varint length
one byte at a time (``reader.read(1)``), then for the body. Through Yamux every read takes two trio locks and may
send the peer a WINDOW_UPDATE frame (Noise-encrypted, then decrypted there) (``YamuxStream.read``,
``libp2p/stream_muxer/yamux/yamux.py``): 2-4 reads per gossip message. No upstream issue reports it (searched the
py-libp2p tracker); upstream's yamux window auto-tuning (https://github.com/libp2p/py-libp2p/pull/1269, in 0.8.1)
makes window updates rarer but leaves the byte-at-a-time reads.

The stream is wrapped so that each read takes what has arrived, up to one Yamux frame's payload, and the reader's
small reads are served from a local buffer.
"""

from __future__ import annotations

from typing import Any

import trio
from libp2p.pubsub.pubsub import Pubsub

# One Yamux frame's payload at most: what a single read of the muxed stream can return.
READ_CHUNK = 64 * 1024


class BufferedPubsubStream:
    """A pubsub stream read through a local buffer; everything but ``read`` is the stream's own."""

    __slots__ = ("_buf", "_stream")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buf = bytearray()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def read(self, n: int | None = None) -> bytes:
        """Exactly ``n`` bytes unless the stream ends first (then what there is); all buffered ones if no n."""
        buf = self._buf
        if n is None or n < 0:
            if not buf:
                return bytes(await self._stream.read(READ_CHUNK))
            data = bytes(buf)
            buf.clear()
            return data
        if len(buf) >= n and n > 1:
            await trio.lowlevel.checkpoint()  # a message body from the buffer: let other tasks run once
        while len(buf) < n:
            chunk = await self._stream.read(max(n - len(buf), READ_CHUNK))
            if not chunk:
                break
            buf += chunk
        data = bytes(buf[:n])
        del buf[:n]
        return data


class BufferedReadPubsub(Pubsub):
    """Pubsub that reads its peers' streams through a ``BufferedPubsubStream``."""

    async def continuously_read_stream(self, stream: Any) -> None:
        buffered: Any = BufferedPubsubStream(stream)  # duck-typed: the library's INetStream is an ABC
        await super().continuously_read_stream(buffered)
