"""A pubsub frame that fails to parse drops that peer's stream, not the whole Pubsub service."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from libp2p.pubsub.pb import rpc_pb2

from node.net.p2p.workarounds.corrupt_frame import drop_peer_on_corrupt_frame


class _Conn:
    peer_id = "peer-a"


class _Stream:
    muxed_conn = _Conn()

    def __init__(self) -> None:
        self.was_reset = False

    async def reset(self) -> None:
        self.was_reset = True


async def _parse_garbage(stream: object) -> None:
    rpc_pb2.RPC().ParseFromString(b"\xff\xff\xff")  # what interleaved frames look like to the reader


async def _read_cleanly(stream: object) -> None:
    return None


async def test_a_corrupt_frame_resets_the_stream_and_drops_only_that_peer() -> None:
    dropped: list[object] = []
    stream = _Stream()
    await drop_peer_on_corrupt_frame(_parse_garbage, stream, dropped.append)
    assert stream.was_reset and dropped == ["peer-a"]


async def test_a_stream_read_to_its_end_is_left_alone() -> None:
    dropped: list[object] = []
    stream = _Stream()
    await drop_peer_on_corrupt_frame(_read_cleanly, stream, dropped.append)
    assert not stream.was_reset and dropped == []


async def test_other_errors_still_reach_the_library() -> None:
    async def broken(stream: object) -> None:
        raise RuntimeError("not a parse error")

    with pytest.raises(RuntimeError):
        await drop_peer_on_corrupt_frame(broken, _Stream(), lambda peer: None)


def test_garbage_really_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        rpc_pb2.RPC().ParseFromString(b"\xff\xff\xff")
