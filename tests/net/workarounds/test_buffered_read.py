"""Pubsub streams are read through a local buffer: py-libp2p's byte-at-a-time varint reads cost one Yamux read."""

from __future__ import annotations

from typing import Any

from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from node.net.p2p.workarounds.buffered_read import BufferedPubsubStream


class _ChunkStream:
    """A stream that hands out pre-arranged chunks (as Yamux hands out what has arrived) and counts reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.reads = 0
        self.muxed_conn = "the connection"

    async def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if n is not None and 0 <= n < len(chunk):
            self.chunks.insert(0, chunk[n:])
            chunk = chunk[:n]
        return chunk


async def test_messages_that_arrived_together_cost_one_read() -> None:
    messages = [b"prevote", b"x" * 300, b"precommit"]
    inner = _ChunkStream([b"".join(encode_varint_prefixed(m) for m in messages)])
    stream: Any = BufferedPubsubStream(inner)
    got = [await read_varint_prefixed_bytes_limited(stream, 1 << 20) for _ in messages]
    assert got == messages
    assert inner.reads == 1  # unbuffered: 2 (varint) + 1 (body) reads per message
    assert stream.muxed_conn == "the connection"  # everything but read is the stream's own


async def test_message_split_over_many_chunks_is_reassembled() -> None:
    body = bytes(range(256)) * 1000  # bigger than one Yamux frame
    framed = encode_varint_prefixed(body) + encode_varint_prefixed(b"next")
    inner = _ChunkStream([framed[i : i + 10_000] for i in range(0, len(framed), 10_000)])
    stream: Any = BufferedPubsubStream(inner)
    assert await read_varint_prefixed_bytes_limited(stream, 1 << 20) == body
    assert await read_varint_prefixed_bytes_limited(stream, 1 << 20) == b"next"


async def test_end_of_stream_returns_what_there_is() -> None:
    stream = BufferedPubsubStream(_ChunkStream([b"abc"]))
    assert await stream.read(10) == b"abc"
    assert await stream.read(1) == b""
    stream = BufferedPubsubStream(_ChunkStream([b"abcdef"]))
    assert await stream.read(2) == b"ab"
    assert await stream.read() == b"cdef"  # no size: everything buffered
