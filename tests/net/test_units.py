"""Pure parts of node.net: config validation, key file, frame codec."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from node.net import (
    ConfigError,
    FramingError,
    KeyFileError,
    MessageTooLarge,
    NetConfig,
    load_or_create_node_key,
    peer_id_from_seed,
)
from node.net.framing import (
    encode_error,
    encode_request,
    encode_response,
    encode_uvarint,
    read_frame,
    read_response,
    read_uvarint,
)

PID = peer_id_from_seed(b"\x07" * 32)


def test_config_defaults_are_valid() -> None:
    cfg = NetConfig()
    assert cfg.listen == "/ip4/127.0.0.1/tcp/0"
    assert cfg.heartbeat_s == 1.0


@pytest.mark.parametrize(
    "kw",
    [
        {"listen": "/ip4/0.0.0.0/tcp/4001"},
        {"listen": "/ip4/10.0.0.1/tcp/4001"},
        {"listen": "/ip4/127.0.0.1/tcp/70000"},
        {"listen": "/ip6/::1/tcp/4001"},
        {"peers": ("/ip4/192.168.1.2/tcp/4001/p2p/" + PID,)},
        {"peers": ("/ip4/127.0.0.1/tcp/4001",)},
        {"peers": ("/dns4/localhost/tcp/4001/p2p/" + PID,)},
        {"allowlist": ("not a peer id!",)},
        {"max_message_bytes": 2 * 1024 * 1024},
        {"max_message_bytes": 0},
        {"heartbeat_s": 0},
        {"reconnect_min_s": 5.0, "reconnect_max_s": 1.0},
        {"peer_queue_size": 8},
    ],
)
def test_config_rejects(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        NetConfig(**kw)


def test_config_accepts_loopback_peer() -> None:
    cfg = NetConfig(peers=(f"/ip4/127.0.0.1/tcp/4001/p2p/{PID}",), allowlist=(PID,))
    assert cfg.static_peer_ids() == (PID,)


def test_node_key_created_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "node.key"
    seed = load_or_create_node_key(path)
    assert len(seed) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_node_key(path) == seed
    assert peer_id_from_seed(seed) == peer_id_from_seed(seed)
    assert peer_id_from_seed(seed).startswith("12D3KooW")  # ed25519 identity
    assert [p.name for p in path.parent.iterdir()] == ["node.key"]  # no temp file left


def test_node_key_refuses_open_permissions_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    load_or_create_node_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="too open"):
        load_or_create_node_key(path)
    path.write_text("zz\n")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError):
        load_or_create_node_key(path)
    path.write_text("ab" * 31 + "\n")
    with pytest.raises(KeyFileError, match="32 bytes"):
        load_or_create_node_key(path)


def test_peer_id_needs_32_bytes() -> None:
    with pytest.raises(ConfigError):
        peer_id_from_seed(b"short")


class ChunkReader:
    """Returns at most `chunk` bytes per read, like a network stream."""

    def __init__(self, data: bytes, chunk: int = 3) -> None:
        self.data, self.chunk, self.reads = data, chunk, 0

    async def read(self, n: int) -> bytes:
        self.reads += 1
        out, self.data = self.data[: min(n, self.chunk)], self.data[min(n, self.chunk) :]
        return out


async def test_uvarint_roundtrip() -> None:
    for v in (0, 1, 127, 128, 300, 2**21, 2**63):
        assert await read_uvarint(ChunkReader(encode_uvarint(v))) == v


async def test_frames_roundtrip() -> None:
    body = os.urandom(10_000)
    assert await read_frame(ChunkReader(encode_request(body), 777), 10_000) == body
    assert await read_response(ChunkReader(encode_response(body), 500), 10_000) == (True, body)
    assert await read_response(ChunkReader(encode_error("boom")), 10) == (False, b"boom")


async def test_oversized_frame_refused_before_body() -> None:
    reader = ChunkReader(encode_request(b"x" * 1000), 1000)
    with pytest.raises(MessageTooLarge) as info:
        await read_frame(reader, 999)
    assert (info.value.size, info.value.limit) == (1000, 999)
    assert reader.data  # the body was never read


async def test_truncated_and_bad_frames() -> None:
    with pytest.raises(FramingError):
        await read_frame(ChunkReader(encode_request(b"abcdef")[:-1]), 100)
    with pytest.raises(FramingError):
        await read_response(ChunkReader(b"\x09\x00"), 100)
    with pytest.raises(FramingError):
        await read_uvarint(ChunkReader(b"\xff" * 11))
