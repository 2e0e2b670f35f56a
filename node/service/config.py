"""Node configuration: ``config.toml`` in the datadir, read with tomllib, validated with clear errors.

Keys other tools rely on (keep them): ``p2p.listen``, ``p2p.peers``, ``p2p.external_addrs``, ``rpc.listen``,
``validator.key_file``, ``validator.password_file``, ``explorer.listen``. Relative paths are relative to the datadir.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.school import RegistryUrlError, check_registry_url
from node.core.errors import VaxchainError
from node.mempool.pool import DEFAULT_MAX_NONCE_GAP, DEFAULT_MAX_TXS, DEFAULT_TTL_S
from node.net.config import parse_external_addr, parse_listen_addr, parse_peer_addr
from node.net.errors import ConfigError as NetConfigError
from rpc.dispatch import MAX_BATCH_RESPONSE_BYTES, MAX_RESPONSE_BYTES
from rpc.server import RpcServerConfig
from rpc.tls import TlsFileError, server_context

CONFIG_FILE = "config.toml"
GENESIS_FILE = "genesis.json"


class ConfigError(VaxchainError):
    """A config.toml that cannot be used: names the key and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config.toml: {key}: {reason}")
        self.key = key
        self.reason = reason


# How long admitted transactions are batched before gossip (producer.tx_gossip_interval_ms; the testnet command
# writes it too): a py-libp2p message costs about the same whatever its size (docs/adr/0007-bft-engine.md).
DEFAULT_TX_GOSSIP_INTERVAL_MS = 500


_SERVER_DEFAULTS = RpcServerConfig()


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """Connection limits of one HTTP listener: keys of ``[rpc]`` and ``[explorer]`` (ADR 0005)."""

    # The server's own defaults: one source, so the config and RpcServerConfig never drift apart.
    max_connections: int = _SERVER_DEFAULTS.max_connections
    max_connections_per_ip: int = _SERVER_DEFAULTS.max_connections_per_ip
    max_ws_per_ip: int = _SERVER_DEFAULTS.max_ws_per_ip
    header_timeout_s: float = _SERVER_DEFAULTS.header_timeout_s
    body_timeout_s: float = _SERVER_DEFAULTS.body_timeout_s
    idle_timeout_s: float = _SERVER_DEFAULTS.idle_timeout_s
    allowed_hosts: tuple[str, ...] = ()  # empty: the listen host and localhost (IP literals always pass)


EXPLORER_LIMITS = ListenerLimits(max_connections=512, max_connections_per_ip=64, max_ws_per_ip=8)


def _limits(section: dict[str, Any], name: str, default: ListenerLimits) -> ListenerLimits:
    counts = {
        key: _get(section, name, key, int, getattr(default, key))
        for key in ("max_connections", "max_connections_per_ip", "max_ws_per_ip")
    }
    timeouts = {
        key: _get(section, name, key, float, getattr(default, key))
        for key in ("header_timeout_s", "body_timeout_s", "idle_timeout_s")
    }
    for key, value in counts.items():
        if value < 1:
            raise ConfigError(f"{name}.{key}", "expected an integer >= 1")
    for key, seconds in timeouts.items():
        if not 0 < seconds <= 3600:
            raise ConfigError(f"{name}.{key}", "expected seconds in (0, 3600]")
    hosts = _strings(section, name, "allowed_hosts") if "allowed_hosts" in section else default.allowed_hosts
    return ListenerLimits(**counts, **timeouts, allowed_hosts=hosts)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node reads from its datadir's config.toml."""

    datadir: Path
    name: str = "node"
    genesis_file: str = GENESIS_FILE
    validator_key_file: str | None = None
    validator_password_file: str | None = None
    p2p_listen: str = "/ip4/127.0.0.1/tcp/26656"
    p2p_peers: tuple[str, ...] = ()
    p2p_allowlist: tuple[str, ...] = ()
    p2p_external_addrs: tuple[
        str, ...
    ] = ()  # what the node announces (when it listens on a wildcard or behind NAT)
    p2p_node_key_file: str = "node_key"
    rpc_listen: str = "127.0.0.1:8545"
    rpc_cors_origins: tuple[str, ...] = ()
    rpc_rate_per_s: float = 500.0
    rpc_tls_cert_file: str | None = (
        None  # PEM certificate chain: RPC serves HTTPS and WSS (with rpc_tls_key_file)
    )
    rpc_tls_key_file: str | None = None  # PEM private key of rpc_tls_cert_file
    rpc_limits: ListenerLimits = ListenerLimits()
    rpc_max_response_bytes: int = MAX_RESPONSE_BYTES
    rpc_max_batch_response_bytes: int = MAX_BATCH_RESPONSE_BYTES
    explorer_enabled: bool = False
    explorer_listen: str = "127.0.0.1:8080"
    explorer_tls_cert_file: str | None = None  # the same two keys for the explorer's pages (HTTPS)
    explorer_tls_key_file: str | None = None
    explorer_limits: ListenerLimits = EXPLORER_LIMITS
    explorer_registry_url: str | None = None  # the registry whose signed revocation list /verify fetches
    mempool_max_txs: int = DEFAULT_MAX_TXS  # a few blocks' worth (ADR 0010)
    mempool_max_per_sender: int = 2_000
    mempool_max_nonce_gap: int = DEFAULT_MAX_NONCE_GAP
    mempool_ttl_s: float = DEFAULT_TTL_S
    max_block_txs: int = 20_000
    tx_gossip_interval_ms: int = DEFAULT_TX_GOSSIP_INTERVAL_MS
    sync_writes: bool = True
    log_level: str = "info"
    log_format: str = "kv"
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the datadir."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.datadir / candidate

    def tls_files(self, section: str) -> tuple[str, str] | None:
        """(certificate, key) paths of ``section`` ("rpc" or "explorer"), resolved against the datadir; None
        without TLS."""
        cert, key = getattr(self, f"{section}_tls_cert_file"), getattr(self, f"{section}_tls_key_file")
        if cert is None or key is None:
            return None
        return str(self.path(cert)), str(self.path(key))

    def listen_url(self, section: str, port: int) -> str:
        """The URL ``section`` ("rpc" or "explorer") serves on, as configured (http or https), with the bound port."""
        host = getattr(self, f"{section}_listen").rpartition(":")[0]
        return f"{'http' if self.tls_files(section) is None else 'https'}://{host}:{port}"

    @property
    def is_validator(self) -> bool:
        """True when a validator key is configured."""
        return self.validator_key_file is not None


def _get(section: dict[str, Any], name: str, key: str, kind: type, default: Any) -> Any:
    if key not in section:
        return default
    value = section[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{name}.{key}", f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _strings(section: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}.{key}", "expected a list of strings")
    return tuple(value)


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(name, "expected a table")
    return value


# A host name as in a URL: DNS labels (RFC 1123) separated by dots.
_HOST_NAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def parse_listen(value: str, key: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[IPV6]:PORT`` into (host without brackets, port); the port may be 0 (any free port).

    HOST is an IPv4 address, a host name, or (in brackets) an IPv6 address; 0.0.0.0 and [::] mean every interface.
    """
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or len(port) > 5 or not 0 <= int(port) < 65536:
        raise ConfigError(key, f"expected HOST:PORT (IPv6 as [ADDR]:PORT), got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ConfigError(key, f"{inner!r} in {value!r} is not an IPv6 address") from None
        if "%" in inner:
            raise ConfigError(key, f"{value!r}: zoned IPv6 addresses are not supported")
        return inner, int(port)
    if ":" in host:
        raise ConfigError(key, f"{value!r}: write an IPv6 address in brackets, as [ADDR]:PORT")
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ConfigError(key, f"{host!r} in {value!r} is not an IPv4 address") from None
    elif not _HOST_NAME_RE.match(host):
        raise ConfigError(key, f"{host!r} in {value!r} is not a host name")
    return host, int(port)


def is_loopback_host(host: str) -> bool:
    """Whether only this machine can reach ``host`` (an IP in 127.0.0.0/8 or ::1, or the name localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name: it may resolve to anything


def connect_url(scheme: str, host: str, port: int) -> str:
    """A URL for reaching a server listening on ``host``: a wildcard means this machine; IPv6 goes in brackets."""
    if host == "0.0.0.0":
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def plain_rpc_warning(config: NodeConfig) -> str | None:
    """The startup warning for JSON-RPC served without TLS beyond loopback (admin tokens and signed transactions
    would cross the network in clear), or None."""
    host, _port = parse_listen(config.rpc_listen, "rpc.listen")
    if is_loopback_host(host) or config.tls_files("rpc") is not None:
        return None
    return (
        f"event=rpc_without_tls listen={config.rpc_listen} reason=plain HTTP beyond loopback: set rpc.tls_cert_file "
        "and rpc.tls_key_file, or listen on 127.0.0.1 behind a TLS proxy"
    )


def _check_tls(config: NodeConfig, section: str) -> None:
    """Both TLS keys of ``section`` or neither, and files that make a working server context (checked now, so a
    bad file stops the node at startup with the key named)."""
    cert, key = getattr(config, f"{section}_tls_cert_file"), getattr(config, f"{section}_tls_key_file")
    if cert is None and key is None:
        return
    if cert is None or key is None:
        missing = "tls_cert_file" if cert is None else "tls_key_file"
        raise ConfigError(
            f"{section}.{missing}", f"missing: {section}.tls_cert_file and tls_key_file go together"
        )
    try:
        server_context(config.path(cert), config.path(key))
    except TlsFileError as exc:
        raise ConfigError(f"{section}.tls_cert_file", str(exc)) from None


def _check_p2p(config: NodeConfig) -> None:
    """The p2p addresses, validated as the network will read them, with the config.toml key named."""
    checks: list[tuple[str, Callable[[str], object], str]] = [
        ("p2p.listen", parse_listen_addr, config.p2p_listen)
    ]
    checks += [("p2p.peers", parse_peer_addr, addr) for addr in config.p2p_peers]
    checks += [("p2p.external_addrs", parse_external_addr, addr) for addr in config.p2p_external_addrs]
    for key, parse, value in checks:
        try:
            parse(value)
        except NetConfigError as exc:
            raise ConfigError(key, exc.reason) from None


def load_config(datadir: Path) -> NodeConfig:
    """Read ``datadir/config.toml``."""
    path = datadir / CONFIG_FILE
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "missing: run `vaxchain init` first") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    node, validator, p2p, rpc = (_section(doc, n) for n in ("node", "validator", "p2p", "rpc"))
    explorer, mempool, producer, storage, log = (
        _section(doc, n) for n in ("explorer", "mempool", "producer", "storage", "log")
    )
    config = NodeConfig(
        datadir=datadir,
        name=_get(node, "node", "name", str, "node"),
        genesis_file=_get(node, "node", "genesis_file", str, GENESIS_FILE),
        validator_key_file=_get(validator, "validator", "key_file", str, None),
        validator_password_file=_get(validator, "validator", "password_file", str, None),
        p2p_listen=_get(p2p, "p2p", "listen", str, "/ip4/127.0.0.1/tcp/26656"),
        p2p_peers=_strings(p2p, "p2p", "peers"),
        p2p_allowlist=_strings(p2p, "p2p", "allowlist"),
        p2p_external_addrs=_strings(p2p, "p2p", "external_addrs"),
        p2p_node_key_file=_get(p2p, "p2p", "node_key_file", str, "node_key"),
        rpc_listen=_get(rpc, "rpc", "listen", str, "127.0.0.1:8545"),
        rpc_cors_origins=_strings(rpc, "rpc", "cors_origins"),
        rpc_rate_per_s=_get(rpc, "rpc", "rate_per_s", float, 500.0),
        rpc_tls_cert_file=_get(rpc, "rpc", "tls_cert_file", str, None),
        rpc_tls_key_file=_get(rpc, "rpc", "tls_key_file", str, None),
        rpc_limits=_limits(rpc, "rpc", ListenerLimits()),
        rpc_max_response_bytes=_get(rpc, "rpc", "max_response_bytes", int, MAX_RESPONSE_BYTES),
        rpc_max_batch_response_bytes=_get(
            rpc, "rpc", "max_batch_response_bytes", int, MAX_BATCH_RESPONSE_BYTES
        ),
        explorer_enabled=_get(explorer, "explorer", "enabled", bool, False),
        explorer_listen=_get(explorer, "explorer", "listen", str, "127.0.0.1:8080"),
        explorer_tls_cert_file=_get(explorer, "explorer", "tls_cert_file", str, None),
        explorer_tls_key_file=_get(explorer, "explorer", "tls_key_file", str, None),
        explorer_limits=_limits(explorer, "explorer", EXPLORER_LIMITS),
        explorer_registry_url=_get(explorer, "explorer", "registry_url", str, None),
        mempool_max_txs=_get(mempool, "mempool", "max_txs", int, DEFAULT_MAX_TXS),
        mempool_max_per_sender=_get(mempool, "mempool", "max_per_sender", int, 2_000),
        mempool_max_nonce_gap=_get(mempool, "mempool", "max_nonce_gap", int, DEFAULT_MAX_NONCE_GAP),
        mempool_ttl_s=_get(mempool, "mempool", "ttl_s", float, DEFAULT_TTL_S),
        max_block_txs=_get(producer, "producer", "max_block_txs", int, 20_000),
        tx_gossip_interval_ms=_get(
            producer, "producer", "tx_gossip_interval_ms", int, DEFAULT_TX_GOSSIP_INTERVAL_MS
        ),
        sync_writes=_get(storage, "storage", "sync_writes", bool, True),
        log_level=_get(log, "log", "level", str, "info"),
        log_format=_get(log, "log", "format", str, "kv"),
        extra=doc,
    )
    _check_p2p(config)
    parse_listen(config.rpc_listen, "rpc.listen")
    parse_listen(config.explorer_listen, "explorer.listen")
    _check_tls(config, "rpc")
    if config.explorer_enabled:
        _check_tls(config, "explorer")
    if config.explorer_registry_url is not None:
        try:
            check_registry_url(config.explorer_registry_url)
        except RegistryUrlError as exc:
            raise ConfigError("explorer.registry_url", str(exc)) from None
    for key in ("max_response_bytes", "max_batch_response_bytes"):
        if getattr(config, f"rpc_{key}") < 1024:
            raise ConfigError(f"rpc.{key}", "expected an integer >= 1024")
    if not 1 <= config.tx_gossip_interval_ms <= 10_000:
        raise ConfigError("producer.tx_gossip_interval_ms", "expected 1..10000")
    if config.mempool_max_nonce_gap < 0:
        raise ConfigError("mempool.max_nonce_gap", "expected 0 or more")
    if not config.mempool_ttl_s > 0:
        raise ConfigError("mempool.ttl_s", "expected more than 0 seconds")
    if config.log_format not in ("kv", "json"):
        raise ConfigError("log.format", "expected kv or json")
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("log.level", "expected debug, info, warning or error")
    return config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_config(sections: dict[str, dict[str, Any]]) -> str:
    """Write a config.toml document (tables of scalars and lists)."""
    lines = ["# vaxchain node configuration. Relative paths are relative to this directory.", ""]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None)
        lines.append("")
    return "\n".join(lines)
