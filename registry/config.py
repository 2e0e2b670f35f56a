"""`registry.toml`: where the registry listens, its TLS files, database, key files and the node it reads.

    [registry]
    listen = "127.0.0.1:8600"
    tls_cert = "tls/cert.pem"          # both or neither; without them it serves plain HTTP (loopback only!)
    tls_key = "tls/key.pem"
    db = "registry.sqlite"
    node_rpc = "http://127.0.0.1:8545"
    node_ca_file = ""                  # PEM CA for an https node_rpc with a private CA
    master_key_file = "keys/master.key"        # or $VAXCHAIN_REGISTRY_MASTER_KEY (hex)
    district_secret_file = "keys/district.secret"
    registry_secret_file = "keys/registry.secret"
    signing_key_file = "keys/registry-signing.key"   # the key the CDC registers on chain (set_registry)
    anchor_key_file = "keys/anchor.key"        # the registry's active on-chain CDC account: sends the access log's
                                               # attest and signs its per-dose reads (vax_doseRecord); optional
    anchor_interval_minutes = 10
    credential_days = 90
    schedule = "auto"                  # or "NIP-2021" / "NIP-2021-DTaP2025": the edition in force by date, or pinned
    max_connections = 256
    max_connections_per_ip = 32
    allowed_hosts = []

Relative paths are relative to the config file. Key files are hex, mode 0600.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import KeyFileError, RegistryError
from registry.schedule_editions import AUTO, EDITIONS
from registry.service import RegistrySecrets
from registry.vault import read_secret_file, secret_from_env, write_secret_file
from vaxcrypto.keys import PrivateKey
from vaxcrypto.secp256k1 import CryptoError

MASTER_KEY_ENV = "VAXCHAIN_REGISTRY_MASTER_KEY"


class RegistryConfigError(RegistryError):
    """A config file that cannot be read or has a bad value (the key is named)."""

    code = "RegistryConfigError"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"registry config {key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """The registry's settings, paths resolved."""

    host: str
    port: int
    tls_cert: Path | None
    tls_key: Path | None
    db: Path
    node_rpc: str
    node_ca_file: Path | None
    master_key_file: Path
    district_secret_file: Path
    registry_secret_file: Path
    signing_key_file: Path
    anchor_key_file: Path | None
    anchor_interval_minutes: float = 10.0
    credential_days: int = 90
    max_connections: int = 256
    max_connections_per_ip: int = 32
    allowed_hosts: tuple[str, ...] = ()
    schedule: str = AUTO

    def secrets(self) -> RegistrySecrets:
        """Read every key: the master key from $VAXCHAIN_REGISTRY_MASTER_KEY if set, else its file."""
        master = secret_from_env(MASTER_KEY_ENV) or read_secret_file(self.master_key_file)
        return RegistrySecrets(
            master_key=master,
            district_secret=read_secret_file(self.district_secret_file),
            registry_secret=read_secret_file(self.registry_secret_file),
            signing_key=_private_key(self.signing_key_file),
            anchor_key=None if self.anchor_key_file is None else _private_key(self.anchor_key_file),
        )


def _private_key(path: Path) -> PrivateKey:
    try:
        return PrivateKey(read_secret_file(path))
    except CryptoError as exc:
        raise KeyFileError(str(path), f"not a secp256k1 secret: {exc}") from None


def _str(table: dict[str, Any], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise RegistryConfigError(key, "must be a non-empty string")
    return value


def _num(table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RegistryConfigError(key, f"must be a number from {low} to {high}")
    return float(value)


def load_registry_config(path: Path) -> RegistryConfig:
    """Parse and check a registry config file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegistryConfigError(str(path), f"cannot read: {exc}") from None
    table = data.get("registry")
    if not isinstance(table, dict):
        raise RegistryConfigError("[registry]", "missing table")
    base = path.resolve().parent

    def p(key: str, optional: bool = False) -> Path | None:
        value = table.get(key, "")
        if optional and value == "":
            return None
        return base / _str(table, key)

    host, sep, port_text = _str(table, "listen").rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise RegistryConfigError("listen", "must be HOST:PORT")
    tls_cert, tls_key = p("tls_cert", True), p("tls_key", True)
    if (tls_cert is None) != (tls_key is None):
        raise RegistryConfigError("tls_cert/tls_key", "give both or neither")
    hosts = table.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise RegistryConfigError("allowed_hosts", "must be a list of host names")
    schedule = table.get("schedule", AUTO)
    if not isinstance(schedule, str) or (schedule != AUTO and schedule not in EDITIONS):
        raise RegistryConfigError("schedule", f"must be {AUTO!r} or one of {sorted(EDITIONS)}")
    required = {
        k: p(k)
        for k in ("db", "master_key_file", "district_secret_file", "registry_secret_file", "signing_key_file")
    }
    return RegistryConfig(
        host=host.strip("[]"),
        port=int(port_text),
        tls_cert=tls_cert,
        tls_key=tls_key,
        db=required["db"] or base,
        node_rpc=_str(table, "node_rpc"),
        node_ca_file=p("node_ca_file", True),
        master_key_file=required["master_key_file"] or base,
        district_secret_file=required["district_secret_file"] or base,
        registry_secret_file=required["registry_secret_file"] or base,
        signing_key_file=required["signing_key_file"] or base,
        anchor_key_file=p("anchor_key_file", True),
        anchor_interval_minutes=_num(table, "anchor_interval_minutes", 10, 0.05, 24 * 60),
        credential_days=int(_num(table, "credential_days", 90, 1, 400)),
        max_connections=int(_num(table, "max_connections", 256, 1, 100_000)),
        max_connections_per_ip=int(_num(table, "max_connections_per_ip", 32, 1, 100_000)),
        allowed_hosts=tuple(hosts),
        schedule=str(schedule),
    )


def init_registry(
    directory: Path,
    node_rpc: str,
    listen: str = "127.0.0.1:8600",
    anchor_key: PrivateKey | None = None,
    signing_key: PrivateKey | None = None,
) -> Path:
    """Create a registry directory: fresh key files (0600) and a `registry.toml`; returns the config path."""
    keys = directory / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    for name in ("master.key", "district.secret", "registry.secret"):
        write_secret_file(keys / name)
    _write_key(keys / "registry-signing.key", signing_key or PrivateKey.generate())
    anchor_line = ""
    if anchor_key is not None:
        _write_key(keys / "anchor.key", anchor_key)
        anchor_line = 'anchor_key_file = "keys/anchor.key"\n'
    config = directory / "registry.toml"
    config.write_text(
        "[registry]\n"
        f'listen = "{listen}"\n'
        'db = "registry.sqlite"\n'
        f'node_rpc = "{node_rpc}"\n'
        'master_key_file = "keys/master.key"\n'
        'district_secret_file = "keys/district.secret"\n'
        'registry_secret_file = "keys/registry.secret"\n'
        'signing_key_file = "keys/registry-signing.key"\n'
        f"{anchor_line}"
        "anchor_interval_minutes = 10\n",
        encoding="utf-8",
    )
    return config


def _write_key(path: Path, key: PrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.secret.hex() + "\n")
