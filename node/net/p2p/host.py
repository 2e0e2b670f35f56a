"""The libp2p host: identity keys, Noise + Yamux over TCP (IPv4, IPv6, DNS names), and peer-id text.

Every library default changed here is changed for a measured reason (../shared/NOTES.md, "py-libp2p 0.8.1").
"""

from __future__ import annotations

import logging
from typing import Any

import multiaddr
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair as ed25519_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from node.net.config import NetConfig, TcpAddr, is_peer_id, parse_external_addr
from node.net.errors import ConfigError, RequestFailed
from node.net.keys import SEED_BYTES
from node.net.p2p.workarounds.ipv6_remote_addr import report_ipv6_remote_addresses
from node.net.p2p.workarounds.stale_peer_record import accept_stale_peer_records
from node.net.p2p.workarounds.system_dns import use_system_resolver

# Peer ids kept as text before the cache starts over (a PoA network has a few dozen peers).
_PEER_ID_TEXT_CACHE = 4096


def key_pair(seed: bytes) -> Any:
    """The ed25519 identity key pair derived from a 32-byte ``seed``."""
    if len(seed) != SEED_BYTES:
        raise ConfigError("node_key_seed", f"must be {SEED_BYTES} bytes, got {len(seed)}")
    return ed25519_key_pair(seed)


def peer_id_from_seed(seed: bytes) -> str:
    """The libp2p peer id (base58, ``12D3KooW...``) of the ed25519 identity derived from ``seed``."""
    return str(ID.from_pubkey(key_pair(seed).public_key).to_base58())


def quiet_library_logs(level: int = logging.WARNING) -> None:
    """Turn down py-libp2p's logging (opt-in, for the node's log setup).

    The library pins its auto-connector logger at INFO, and logs every failed redial of a
    down peer (TCP) and every refused protocol (host) at ERROR, although both are routine here.
    """
    logging.getLogger("libp2p").setLevel(level)
    logging.getLogger("libp2p.network.auto_connector").setLevel(level)
    for name in ("libp2p.transport.tcp.tcp", "libp2p.host.basic_host"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def build_host(config: NetConfig, keys: Any) -> Any:
    """A libp2p host for ``keys`` listening on ``config.listen``, not started yet.

    It announces ``config.external_addrs`` when set (a wildcard or NATed listen address means nothing to a
    peer), else its listen address.
    """
    announce = [multiaddr.Multiaddr(parse_external_addr(a).multiaddr) for a in config.external_addrs]
    report_ipv6_remote_addresses()
    host = new_host(
        key_pair=keys,
        # Noise needs its own x25519 static key; it is signed by the identity key during the
        # handshake, so a fresh one per process is fine.
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(keys, noise_privkey=x25519_key_pair().private_key)},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        connection_config=ConnectionConfig(
            # ../shared/NOTES.md: connect() costs a fixed ~250 ms (happy-eyeballs wait) unless this is 1.
            max_connections_per_peer=1,
            dial_timeout=config.dial_timeout_s,
            # No IP allow list: peers are admitted by peer id (peers.py), from any address. (An allow list
            # also exempts connections from the library's pruner, which only acts above 300 connections.)
        ),
        listen_addrs=[listen_addr(config)],
        announce_addrs=announce or None,
        # Never advertise identify-observed addresses: behind NAT a peer observes our ephemeral outbound port,
        # which nobody can dial; an operator states what to announce in external_addrs instead.
        disable_identify_address_discovery=True,
    )
    use_system_resolver(host, config.dial_timeout_s)
    accept_stale_peer_records(host.get_peerstore())
    return host


def dial_addr(addr: TcpAddr) -> Any:
    """The TCP multiaddr to dial ``addr`` at (a DNS name is resolved at each dial: workarounds/system_dns.py)."""
    return multiaddr.Multiaddr(addr.multiaddr)


def listen_addr(config: NetConfig) -> Any:
    """``config.listen`` as a multiaddr."""
    return multiaddr.Multiaddr(config.listen)


def id_from_text(text: str) -> Any:
    """A libp2p peer id from base58 text already known to be one (config, an open stream)."""
    return ID.from_base58(text)


def is_connected(host: Any, peer: Any) -> bool:
    """Whether ``host`` has an open connection to ``peer``."""
    return bool(host.get_network().get_connections(peer))


def parse_peer_id(text: str) -> Any:
    """A libp2p peer id from base58 text given by a caller; RequestFailed if it is not one."""
    if not is_peer_id(text):
        raise RequestFailed(text, "invalid peer id")
    try:
        return ID.from_base58(text)
    except Exception as exc:  # base58 raises ValueError, but be strict about "never leaks"
        raise RequestFailed(text, "invalid peer id") from exc


def remote_addr(conn: Any) -> str | None:
    """The far end of a connection, for display; None if the library cannot tell."""
    try:
        addrs = conn.get_transport_addresses()
    except Exception:  # best effort, for display only
        return None
    return str(addrs[0]) if addrs else None


class PeerIdText:
    """Peer id bytes -> base58 text, cached (base58 is pure-Python big-int math, per message)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[bytes, str] = {}

    def __call__(self, raw: bytes) -> str:
        text = self._cache.get(raw)
        if text is None:
            if len(self._cache) > _PEER_ID_TEXT_CACHE:
                self._cache.clear()
            text = self._cache[raw] = ID(raw).to_base58()
        return text
