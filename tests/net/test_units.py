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
from node.net.config import parse_external_addr, parse_listen_addr, parse_peer_addr
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
    ("kw", "field", "reason"),
    [
        ({"listen": "/ip4/127.0.0.1/tcp/70000"}, "listen", "port must be 0..65535"),
        ({"listen": "/ip4/127.0.0.1/tcp/-1"}, "listen", "port must be"),
        ({"listen": "/ip4/300.0.0.1/tcp/4001"}, "listen", "not an IPv4 address"),
        ({"listen": "/ip4/010.0.0.1/tcp/4001"}, "listen", "not an IPv4 address"),
        ({"listen": "/ip6/1.2.3.4/tcp/4001"}, "listen", "not an IPv6 address"),
        ({"listen": "/ip6/fe80::1%eth0/tcp/4001"}, "listen", "zoned IPv6"),
        ({"listen": "/dns4/localhost/tcp/4001"}, "listen", "protocol /dns4 is not one of ip4|ip6"),
        ({"listen": "/ip4/127.0.0.1/udp/4001"}, "listen", "is not /ip4|ip6/HOST/tcp/PORT"),
        ({"listen": "/ip4/127.0.0.1/tcp/4001/p2p/" + PID}, "listen", "is not /ip4|ip6/HOST/tcp/PORT"),
        ({"listen": "127.0.0.1:4001"}, "listen", "is not /ip4|ip6/HOST/tcp/PORT"),
        ({"peers": ("/ip4/127.0.0.1/tcp/4001",)}, "peers", "does not end with /p2p/PEERID"),
        ({"peers": ("/ip4/127.0.0.1/tcp/0/p2p/" + PID,)}, "peers", "port must be 1..65535"),
        ({"peers": ("/ip4/0.0.0.0/tcp/4001/p2p/" + PID,)}, "peers", "wildcard"),
        ({"peers": ("/ip6/::/tcp/4001/p2p/" + PID,)}, "peers", "wildcard"),
        ({"peers": ("/dns4/-bad-.example/tcp/4001/p2p/" + PID,)}, "peers", "not a DNS name"),
        ({"peers": ("/dns/a..b/tcp/4001/p2p/" + PID,)}, "peers", "not a DNS name"),
        ({"peers": ("/dnsaddr/example.org/tcp/4001/p2p/" + PID,)}, "peers", "protocol /dnsaddr"),
        ({"peers": ("/ip4/127.0.0.1/tcp/4001/p2p/0OIl",)}, "peers", "not a base58 peer id"),
        ({"external_addrs": ("/ip4/0.0.0.0/tcp/4001",)}, "external_addrs", "wildcard"),
        ({"external_addrs": ("/ip4/10.0.0.1/tcp/0",)}, "external_addrs", "port must be 1..65535"),
        ({"external_addrs": ("/ip4/10.0.0.1/tcp/4001/p2p/" + PID,)}, "external_addrs", "is not /ip4"),
        ({"allowlist": ("not a peer id!",)}, "allowlist", "base58"),
        ({"max_message_bytes": 2 * 1024 * 1024}, "max_message_bytes", "must be in"),
        ({"max_message_bytes": 0}, "max_message_bytes", "must be in"),
        ({"heartbeat_s": 0}, "heartbeat_s", "> 0"),
        ({"reconnect_min_s": 5.0, "reconnect_max_s": 1.0}, "reconnect_max_s", ">="),
        ({"peer_queue_size": 8}, "peer_queue_size", ">= 32"),
    ],
)
def test_config_rejects(kw: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        NetConfig(**kw)  # type: ignore[arg-type]
    assert info.value.field == field
    assert reason in info.value.reason


def test_config_accepts_loopback_peer() -> None:
    cfg = NetConfig(peers=(f"/ip4/127.0.0.1/tcp/4001/p2p/{PID}",), allowlist=(PID,))
    assert cfg.static_peer_ids() == (PID,)


@pytest.mark.parametrize(
    "listen",
    ["/ip4/0.0.0.0/tcp/4001", "/ip4/10.0.0.1/tcp/0", "/ip6/::/tcp/4001", "/ip6/2001:db8::7/tcp/65535"],
)
def test_config_accepts_any_ip_listen_address(listen: str) -> None:
    assert NetConfig(listen=listen).listen == listen


def test_config_accepts_ip_and_dns_peers_and_external_addrs() -> None:
    peers = (
        f"/ip4/192.168.1.2/tcp/4001/p2p/{PID}",
        f"/ip6/::1/tcp/4001/p2p/{PID}",
        f"/dns4/localhost/tcp/4001/p2p/{PID}",
        f"/dns6/node-1.cdc.example/tcp/4001/p2p/{PID}",
        f"/dns/validator.example.org/tcp/4001/p2p/{PID}",
    )
    external = ("/ip4/203.0.113.5/tcp/4001", "/dns4/node.example.org/tcp/4001")
    cfg = NetConfig(listen="/ip4/0.0.0.0/tcp/4001", peers=peers, external_addrs=external)
    assert cfg.static_peer_ids() == (PID,) * 5
    assert cfg.external_addrs == external


def test_parsed_addresses_know_wildcard_and_loopback() -> None:
    assert parse_listen_addr("/ip4/0.0.0.0/tcp/1").is_wildcard
    assert parse_listen_addr("/ip6/::/tcp/1").is_wildcard
    assert not parse_listen_addr("/ip4/127.0.0.3/tcp/1").is_wildcard
    assert parse_listen_addr("/ip4/127.0.0.3/tcp/1").is_loopback
    assert parse_listen_addr("/ip6/::1/tcp/1").is_loopback
    assert not parse_listen_addr("/ip4/10.1.2.3/tcp/1").is_loopback
    tcp, pid = parse_peer_addr(f"/dns4/LocalHost/tcp/7/p2p/{PID}")
    assert (tcp.multiaddr, tcp.port, tcp.is_loopback, pid) == ("/dns4/LocalHost/tcp/7", 7, True, PID)
    assert parse_external_addr("/dns/example.org/tcp/9").multiaddr == "/dns/example.org/tcp/9"


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
