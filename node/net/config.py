"""Network configuration (pure data; no libp2p import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from node.net.errors import ConfigError

# Gossip RPCs above 1 MiB are dropped silently by py-libp2p (../shared/NOTES.md "Max message 1 MiB per RPC");
# keep ~8 KiB headroom for the envelope (topic, seqno, signature, key, signed peer record).
MAX_GOSSIP_PAYLOAD = 1024 * 1024 - 8 * 1024

_PEER_ID = r"[1-9A-HJ-NP-Za-km-z]{32,128}"  # base58btc alphabet
_LISTEN_RE = re.compile(r"^/ip4/127\.0\.0\.1/tcp/(\d{1,5})$")
_PEER_RE = re.compile(rf"^/ip4/127\.0\.0\.1/tcp/(\d{{1,5}})/p2p/({_PEER_ID})$")
_PEER_ID_RE = re.compile(rf"^{_PEER_ID}$")


def parse_listen_addr(addr: str) -> int:
    """Return the TCP port of a listen multiaddr; only /ip4/127.0.0.1/tcp/N is accepted."""
    m = _LISTEN_RE.match(addr)
    if m is None or int(m.group(1)) > 65535:
        raise ConfigError("listen", f"{addr!r} is not /ip4/127.0.0.1/tcp/PORT")
    return int(m.group(1))


def parse_peer_addr(addr: str) -> tuple[int, str]:
    """Return (port, peer_id) of a static peer multiaddr /ip4/127.0.0.1/tcp/N/p2p/ID."""
    m = _PEER_RE.match(addr)
    if m is None or not 0 < int(m.group(1)) <= 65535:
        raise ConfigError("peers", f"{addr!r} is not /ip4/127.0.0.1/tcp/PORT/p2p/PEERID")
    return int(m.group(1)), m.group(2)


def is_peer_id(text: str) -> bool:
    """Cheap shape check of a base58 peer id (the library accepts any base58 string)."""
    return _PEER_ID_RE.match(text) is not None


@dataclass(frozen=True, slots=True)
class NetConfig:
    """How a Network listens, whom it keeps connected, and its limits.

    Only loopback (127.0.0.1) addresses are accepted: this node never talks to anything else.
    """

    listen: str = "/ip4/127.0.0.1/tcp/0"
    peers: tuple[str, ...] = ()  # static peers, kept connected: "/ip4/127.0.0.1/tcp/PORT/p2p/PEERID"
    allowlist: tuple[str, ...] = ()  # allowed peer ids; empty = anyone
    heartbeat_s: float = 1.0  # gossipsub heartbeat (the library default is 120 s, ../shared/NOTES.md)
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    max_message_bytes: int = 1_000_000  # gossip payload limit
    max_request_bytes: int = 1024 * 1024
    max_response_bytes: int = 16 * 1024 * 1024  # sync batches may be ~8 MiB
    request_concurrency: int = 32  # inbound requests served at once (beyond: they wait)
    handler_timeout_s: float = 30.0  # server side bound on one request handler
    dial_timeout_s: float = 5.0
    ping_interval_s: float = 5.0  # app-level liveness: a frozen peer is otherwise never detected
    ping_timeout_s: float = 5.0
    ping_max_failures: int = 3  # consecutive failed pings before the connection is closed
    peer_queue_size: int = 128  # per-peer outbound gossip RPC queue (library default 32)
    backpressure_timeout_s: float = 2.0  # a peer whose queue stays full this long no longer blocks publish

    def __post_init__(self) -> None:
        parse_listen_addr(self.listen)
        for p in self.peers:
            parse_peer_addr(p)
        for pid in self.allowlist:
            if not is_peer_id(pid):
                raise ConfigError("allowlist", f"{pid!r} is not a base58 peer id")
        positive = {
            "heartbeat_s": self.heartbeat_s,
            "reconnect_min_s": self.reconnect_min_s,
            "handler_timeout_s": self.handler_timeout_s,
            "dial_timeout_s": self.dial_timeout_s,
            "ping_interval_s": self.ping_interval_s,
            "ping_timeout_s": self.ping_timeout_s,
            "backpressure_timeout_s": self.backpressure_timeout_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(name, "must be > 0")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("reconnect_max_s", "must be >= reconnect_min_s")
        if not 0 < self.max_message_bytes <= MAX_GOSSIP_PAYLOAD:
            raise ConfigError("max_message_bytes", f"must be in 1..{MAX_GOSSIP_PAYLOAD}")
        for name, value in (
            ("max_request_bytes", self.max_request_bytes),
            ("max_response_bytes", self.max_response_bytes),
            ("request_concurrency", self.request_concurrency),
            ("ping_max_failures", self.ping_max_failures),
        ):
            if value < 1:
                raise ConfigError(name, "must be >= 1")
        if self.peer_queue_size < 32:
            raise ConfigError("peer_queue_size", "must be >= 32 (the library default)")

    def static_peer_ids(self) -> tuple[str, ...]:
        """Peer ids of the static peers, in config order."""
        return tuple(parse_peer_addr(p)[1] for p in self.peers)
