"""config.toml addresses: any HOST:PORT for rpc/explorer, any IP (or DNS peer) for p2p; bad ones are named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.cli.tx_common import InputError, rpc_tls, rpc_url
from node.net import peer_id_from_seed
from node.service.config import (
    ConfigError,
    connect_url,
    is_loopback_host,
    load_config,
    parse_listen,
    plain_rpc_warning,
)
from tests.tls_certs import Issued, PrivateCA

PID = peer_id_from_seed(b"\x09" * 32)


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8545", ("127.0.0.1", 8545)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("10.20.30.40:65535", ("10.20.30.40", 65535)),
        ("[::1]:8545", ("::1", 8545)),
        ("[::]:8080", ("::", 8080)),
        ("[2001:db8::5]:443", ("2001:db8::5", 443)),
        ("localhost:8545", ("localhost", 8545)),
        ("rpc.cdc-district.example:8545", ("rpc.cdc-district.example", 8545)),
    ],
)
def test_listen_accepts_any_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value, "rpc.listen") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("8545", "expected HOST:PORT"),
        (":8545", "expected HOST:PORT"),
        ("127.0.0.1:", "expected HOST:PORT"),
        ("127.0.0.1:65536", "expected HOST:PORT"),
        ("127.0.0.1:http", "expected HOST:PORT"),
        ("::1:8545", "in brackets"),
        ("[127.0.0.1]:8545", "not an IPv6 address"),
        ("[fe80::1%eth0]:8545", "zoned"),
        ("300.1.1.1:8545", "not an IPv4 address"),
        ("bad_host!:8545", "not a host name"),
        ("-lead.example:8545", "not a host name"),
    ],
)
def test_listen_rejects_malformed_with_the_key_named(value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_listen(value, "explorer.listen")
    assert info.value.key == "explorer.listen"
    assert reason in info.value.reason


def test_addresses_are_read_from_config_toml(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            f"""[p2p]
listen = "/ip6/::/tcp/26656"
peers = ["/dns4/validator-1.cdc.example/tcp/26656/p2p/{PID}", "/ip4/10.0.0.7/tcp/26656/p2p/{PID}"]
external_addrs = ["/dns4/node.site-07.example/tcp/26656", "/ip4/203.0.113.9/tcp/26656"]

[rpc]
listen = "[::]:8545"

[explorer]
listen = "0.0.0.0:8080"
""",
        )
    )
    assert config.p2p_listen == "/ip6/::/tcp/26656"
    assert config.p2p_external_addrs == ("/dns4/node.site-07.example/tcp/26656", "/ip4/203.0.113.9/tcp/26656")
    assert len(config.p2p_peers) == 2
    assert (config.rpc_listen, config.explorer_listen) == ("[::]:8545", "0.0.0.0:8080")


@pytest.mark.parametrize(
    ("section", "key", "reason"),
    [
        ('listen = "/ip4/127.0.0.1/udp/1"', "p2p.listen", "is not /ip4|ip6/HOST/tcp/PORT"),
        ('listen = "/dns4/localhost/tcp/1"', "p2p.listen", "protocol /dns4"),
        ('peers = ["/ip4/10.0.0.300/tcp/1/p2p/PID"]', "p2p.peers", "not an IPv4 address"),
        ('peers = ["/ip4/10.0.0.3/tcp/1"]', "p2p.peers", "does not end with /p2p/PEERID"),
        ('external_addrs = ["/ip4/0.0.0.0/tcp/1"]', "p2p.external_addrs", "wildcard"),
        ("external_addrs = [1]", "p2p.external_addrs", "expected a list of strings"),
    ],
)
def test_bad_p2p_addresses_are_named_errors_at_load(
    tmp_path: Path, section: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "[p2p]\n" + section.replace("PID", PID) + "\n"))
    assert info.value.key == key
    assert reason in info.value.reason
    assert key in str(info.value)


def test_plain_rpc_is_warned_about_only_beyond_loopback(tmp_path: Path) -> None:
    for listen in ("127.0.0.1:8545", "127.0.0.9:8545", "[::1]:8545", "localhost:8545"):
        assert plain_rpc_warning(load_config(_write(tmp_path, f'[rpc]\nlisten = "{listen}"\n'))) is None
    for listen in ("0.0.0.0:8545", "[::]:8545", "10.1.2.3:8545", "rpc.example.org:8545"):
        warning = plain_rpc_warning(load_config(_write(tmp_path, f'[rpc]\nlisten = "{listen}"\n')))
        assert warning is not None and "rpc_without_tls" in warning and "rpc.tls_cert_file" in warning


def test_loopback_hosts_and_connect_urls() -> None:
    assert is_loopback_host("127.3.2.1") and is_loopback_host("::1") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("node.example")
    assert connect_url("http", "0.0.0.0", 8545) == "http://127.0.0.1:8545"
    assert connect_url("https", "::", 8545) == "https://[::1]:8545"
    assert connect_url("http", "2001:db8::1", 80) == "http://[2001:db8::1]:80"
    assert connect_url("http", "127.0.0.2", 1) == "http://127.0.0.2:1"


@pytest.fixture
def issued(tmp_path: Path) -> Issued:
    return PrivateCA(tmp_path / "tls").issue("node")


def test_tls_keys_are_read_relative_to_the_datadir(tmp_path: Path, issued: Issued) -> None:
    cert, key = issued.cert.relative_to(tmp_path), issued.key.relative_to(tmp_path)
    tls = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    config = load_config(
        _write(tmp_path, f'[rpc]\nlisten = "0.0.0.0:8545"\n{tls}\n[explorer]\nenabled = true\n{tls}')
    )
    assert config.tls_files("rpc") == config.tls_files("explorer") == (str(issued.cert), str(issued.key))
    assert config.listen_url("rpc", 1234) == "https://0.0.0.0:1234"
    assert plain_rpc_warning(config) is None  # beyond loopback, but over TLS
    plain = load_config(_write(tmp_path, '[rpc]\nlisten = "[::1]:8545"\n'))
    assert plain.tls_files("rpc") is None and plain.listen_url("rpc", 9) == "http://[::1]:9"


@pytest.mark.parametrize(
    ("tls", "key", "reason"),
    [
        ('tls_cert_file = "CERT"\n', "rpc.tls_key_file", "go together"),
        ('tls_key_file = "KEY"\n', "rpc.tls_cert_file", "go together"),
        ('tls_cert_file = "gone.pem"\ntls_key_file = "KEY"\n', "rpc.tls_cert_file", "gone.pem: No such file"),
        ('tls_cert_file = "CERT"\ntls_key_file = "CERT"\n', "rpc.tls_cert_file", "matching key"),
        ("tls_cert_file = 7\n", "rpc.tls_cert_file", "expected str"),
    ],
)
def test_bad_tls_keys_are_named_errors_at_load(
    tmp_path: Path, issued: Issued, tls: str, key: str, reason: str
) -> None:
    tls = tls.replace("CERT", str(issued.cert)).replace("KEY", str(issued.key))
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "[rpc]\n" + tls))
    assert info.value.key == key and reason in info.value.reason


def test_explorer_tls_is_checked_when_the_explorer_runs(tmp_path: Path) -> None:
    section = '[explorer]\nenabled = ENABLED\ntls_cert_file = "gone.pem"\ntls_key_file = "gone.key"\n'
    load_config(_write(tmp_path, section.replace("ENABLED", "false")))
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, section.replace("ENABLED", "true")))
    assert info.value.key == "explorer.tls_cert_file"


def test_cli_rpc_url_and_trust_from_the_datadir(tmp_path: Path, issued: Issued) -> None:
    _write(tmp_path, '[rpc]\nlisten = "[::]:18545"\n')
    assert rpc_url(None, tmp_path) == "http://[::1]:18545"
    assert rpc_tls(None, tmp_path, None) is None
    with pytest.raises(InputError, match="needs an https://"):
        rpc_tls(None, tmp_path, issued.cert)
    _write(
        tmp_path,
        f'[rpc]\nlisten = "0.0.0.0:18545"\ntls_cert_file = "{issued.cert}"\ntls_key_file = "{issued.key}"\n',
    )
    assert rpc_url(None, tmp_path) == "https://127.0.0.1:18545"
    pinned = rpc_tls(None, tmp_path, None)  # its own node: that certificate, whatever the name
    assert pinned is not None and not pinned.check_hostname
    assert rpc_tls("https://rpc.example:1", tmp_path, None) is None  # another URL: the system's CAs
    named = rpc_tls("https://rpc.example:1", None, issued.cert)
    assert named is not None and named.check_hostname
    with pytest.raises(InputError, match="--ca-file"):
        rpc_tls("https://rpc.example:1", None, tmp_path / "gone.pem")
