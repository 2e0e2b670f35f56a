"""Network configuration (pure data; no libp2p import)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from node.net.errors import ConfigError

# Gossip RPCs above 1 MiB are dropped silently by py-libp2p (../shared/NOTES.md "Max message 1 MiB per RPC");
# keep ~8 KiB headroom for the envelope (topic, seqno, signature, key, signed peer record).
MAX_GOSSIP_PAYLOAD = 1024 * 1024 - 8 * 1024

_PEER_ID = r"[1-9A-HJ-NP-Za-km-z]{32,128}"  # base58btc alphabet
_PEER_ID_RE = re.compile(rf"^{_PEER_ID}$")
# One DNS label (RFC 1123): letters, digits, inner hyphens; a name is at most 253 characters.
_DNS_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_IP_PROTOCOLS = ("ip4", "ip6")
_DNS_PROTOCOLS = ("dns", "dns4", "dns6")


@dataclass(frozen=True, slots=True)
class TcpAddr:
    """A TCP multiaddr taken apart: ``/PROTOCOL/HOST/tcp/PORT`` (PROTOCOL ip4, ip6, dns, dns4 or dns6)."""

    protocol: str
    host: str
    port: int

    @property
    def multiaddr(self) -> str:
        """The address as multiaddr text, without a ``/p2p`` part."""
        return f"/{self.protocol}/{self.host}/tcp/{self.port}"

    @property
    def is_wildcard(self) -> bool:
        """Whether this is 0.0.0.0 or :: (every interface)."""
        return self.protocol in _IP_PROTOCOLS and ipaddress.ip_address(self.host).is_unspecified

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach it (127.0.0.0/8, ::1, or the name localhost)."""
        if self.protocol in _DNS_PROTOCOLS:
            return self.host.lower() == "localhost"
        return ipaddress.ip_address(self.host).is_loopback


def _host_problem(protocol: str, host: str) -> str | None:
    """Why ``host`` is not a valid value for ``protocol``, or None."""
    if protocol == "ip4":
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not an IPv4 address"
        return None
    if protocol == "ip6":
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        if "%" in host:
            return f"{host!r}: zoned IPv6 addresses are not supported"
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(_DNS_LABEL_RE.match(label) for label in labels):
        return f"{host!r} is not a DNS name"
    return None


def parse_tcp_addr(addr: str, field: str, *, protocols: tuple[str, ...], min_port: int) -> TcpAddr:
    """Take ``/PROTOCOL/HOST/tcp/PORT`` apart; ConfigError(field) naming what is wrong if it is not one."""
    allowed = "|".join(protocols)
    parts = addr.split("/")
    if len(parts) != 5 or parts[0] != "" or parts[3] != "tcp":
        raise ConfigError(field, f"{addr!r} is not /{allowed}/HOST/tcp/PORT")
    protocol, host, port_text = parts[1], parts[2], parts[4]
    if protocol not in protocols:
        raise ConfigError(field, f"{addr!r}: protocol /{protocol} is not one of {allowed}")
    problem = _host_problem(protocol, host)
    if problem is not None:
        raise ConfigError(field, f"{addr!r}: {problem}")
    if not port_text.isdigit() or len(port_text) > 5 or not min_port <= int(port_text) <= 65535:
        raise ConfigError(field, f"{addr!r}: port must be {min_port}..65535")
    return TcpAddr(protocol, host, int(port_text))


def parse_listen_addr(addr: str) -> TcpAddr:
    """A listen multiaddr: ``/ip4/ADDR/tcp/PORT`` or ``/ip6/ADDR/tcp/PORT``; wildcards and port 0 included."""
    return parse_tcp_addr(addr, "listen", protocols=_IP_PROTOCOLS, min_port=0)


def parse_peer_addr(addr: str) -> tuple[TcpAddr, str]:
    """A static peer: ``/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT/p2p/PEERID`` -> (address, peer id)."""
    base, sep, pid = addr.rpartition("/p2p/")
    if not sep:
        raise ConfigError("peers", f"{addr!r} does not end with /p2p/PEERID")
    if not is_peer_id(pid):
        raise ConfigError("peers", f"{addr!r}: {pid!r} is not a base58 peer id")
    tcp = parse_tcp_addr(base, "peers", protocols=_IP_PROTOCOLS + _DNS_PROTOCOLS, min_port=1)
    if tcp.is_wildcard:
        raise ConfigError("peers", f"{addr!r}: a wildcard address cannot be dialled")
    return tcp, pid


def parse_external_addr(addr: str) -> TcpAddr:
    """An address to announce: ``/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT`` (no peer id: the node adds its own)."""
    tcp = parse_tcp_addr(addr, "external_addrs", protocols=_IP_PROTOCOLS + _DNS_PROTOCOLS, min_port=1)
    if tcp.is_wildcard:
        raise ConfigError("external_addrs", f"{addr!r}: a wildcard address cannot be announced")
    return tcp


def is_peer_id(text: str) -> bool:
    """Cheap shape check of a base58 peer id (the library accepts any base58 string)."""
    return _PEER_ID_RE.match(text) is not None


@dataclass(frozen=True, slots=True)
class NetConfig:
    """How a Network listens, whom it keeps connected, and its limits.

    Any IPv4/IPv6 address may be listened on (0.0.0.0 and :: included); static peers may also be DNS names.
    Whom a node keeps connected is decided by peer id (``allowlist``, static peers), never by IP address.
    """

    listen: str = "/ip4/127.0.0.1/tcp/0"
    peers: tuple[
        str, ...
    ] = ()  # static peers, kept connected: "/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT/p2p/PEERID"
    # What the node announces (identify, signed peer records) instead of its listen address: needed when it
    # listens on a wildcard or behind NAT. Empty: the listen address itself.
    external_addrs: tuple[str, ...] = ()
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
        for a in self.external_addrs:
            parse_external_addr(a)
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
