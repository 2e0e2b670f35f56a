"""Two tasks writing RPCs to one peer's stream: whole RPCs one after the other, never interleaved frames."""

from __future__ import annotations

import trio
from libp2p.network.stream.exceptions import StreamClosed
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from wa_helpers import host_and_router

from node.net.p2p.workarounds.serial_writes import SerialWritePubsub


class _FramingStream:
    """Writes each buffer as two frames with a scheduling point between them, as Yamux does for a large write."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def write(self, data: bytes) -> None:
        half = len(data) // 2
        self.frames.append(data[:half])
        await trio.sleep(0)  # waiting for a window update
        self.frames.append(data[half:])


class _Conn:
    peer_id = ID(b"\x01" * 38)


class _ClosedStream:
    muxed_conn = _Conn()

    async def write(self, data: bytes) -> None:
        raise StreamClosed("closed")


def _rpc(fill: bytes) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(data=fill * 1000)])


async def _two_writers(pubsub: Pubsub, stream: _FramingStream) -> list[bytes]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pubsub.write_msg, stream, _rpc(b"a"))
        nursery.start_soon(pubsub.write_msg, stream, _rpc(b"b"))
    return stream.frames


async def test_concurrent_rpcs_to_one_stream_are_written_whole() -> None:
    host, router = host_and_router()
    frames = await _two_writers(SerialWritePubsub(host, router), _FramingStream())
    first, second = frames[0][-1:], frames[2][-1:]
    assert first != second and frames[1][-1:] == first and frames[3][-1:] == second


async def test_without_the_lock_the_library_interleaves_frames() -> None:
    host, router = host_and_router()
    frames = await _two_writers(Pubsub(host, router), _FramingStream())
    assert frames[0][-1:] != frames[1][-1:]  # the defect: a's first frame, then b's first frame


async def test_a_closed_stream_reports_false_and_the_next_stream_still_writes() -> None:
    host, router = host_and_router()
    pubsub = SerialWritePubsub(host, router)
    assert await pubsub.write_msg(_ClosedStream(), _rpc(b"x")) is False
    stream = _FramingStream()
    assert await pubsub.write_msg(stream, _rpc(b"y")) is True
    assert len(stream.frames) == 2
