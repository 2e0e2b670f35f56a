"""config.toml keys of the producer, mempool, rpc and explorer sections: defaults, values and named errors; the
node's descriptor limit and connection caps."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from node.mempool.pool import DEFAULT_MAX_NONCE_GAP, DEFAULT_MAX_TXS, DEFAULT_TTL_S
from node.service.config import (
    DEFAULT_TX_GOSSIP_INTERVAL_MS,
    EXPLORER_LIMITS,
    ConfigError,
    ListenerLimits,
    NodeConfig,
    load_config,
)
from node.service.node import FD_RESERVE, MIN_LISTENER_CONNECTIONS, connection_caps, raise_open_file_limit


def _write(tmp_path: Path, producer: str) -> Path:
    (tmp_path / "config.toml").write_text(f'[node]\nname = "n"\n\n[producer]\n{producer}\n', encoding="utf-8")
    return tmp_path


def test_transaction_gossip_interval_defaults_to_500_ms(tmp_path: Path) -> None:
    interval = load_config(_write(tmp_path, "")).tx_gossip_interval_ms
    assert interval == DEFAULT_TX_GOSSIP_INTERVAL_MS == 500


def test_transaction_gossip_interval_is_read(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "tx_gossip_interval_ms = 50\nmax_block_txs = 500"))
    assert (config.tx_gossip_interval_ms, config.max_block_txs) == (50, 500)


@pytest.mark.parametrize("value", ["0", "10001", '"fast"'])
def test_a_bad_transaction_gossip_interval_is_a_named_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, f"tx_gossip_interval_ms = {value}"))
    assert info.value.key == "producer.tx_gossip_interval_ms"


def test_mempool_max_txs_defaults_to_a_few_blocks_worth(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "")).mempool_max_txs == DEFAULT_MAX_TXS == 10_000
    (tmp_path / "config.toml").write_text("[mempool]\nmax_txs = 2500\n", encoding="utf-8")
    assert load_config(tmp_path).mempool_max_txs == 2_500


def test_mempool_nonce_gap_and_ttl_are_read_with_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    assert (config.mempool_max_nonce_gap, config.mempool_ttl_s) == (DEFAULT_MAX_NONCE_GAP, DEFAULT_TTL_S)
    (tmp_path / "config.toml").write_text("[mempool]\nmax_nonce_gap = 16\nttl_s = 30\n", encoding="utf-8")
    config = load_config(tmp_path)
    assert (config.mempool_max_nonce_gap, config.mempool_ttl_s) == (16, 30.0)


def write_and_load(tmp_path: Path, text: str) -> NodeConfig:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


def test_listener_limits_default_and_are_read(tmp_path: Path) -> None:
    config = write_and_load(tmp_path, "")
    assert config.rpc_limits == ListenerLimits()
    assert config.explorer_limits == EXPLORER_LIMITS
    assert config.rpc_max_response_bytes == 8 << 20
    config = write_and_load(
        tmp_path,
        "[rpc]\nmax_connections = 50\nmax_connections_per_ip = 5\nmax_ws_per_ip = 2\nheader_timeout_s = 3\n"
        'body_timeout_s = 4.5\nidle_timeout_s = 20\nallowed_hosts = ["rpc.example"]\nmax_response_bytes = 4096\n'
        "max_batch_response_bytes = 8192\n[explorer]\nmax_connections = 7\n",
    )
    assert config.rpc_limits == ListenerLimits(50, 5, 2, 3.0, 4.5, 20.0, ("rpc.example",))
    assert (config.rpc_max_response_bytes, config.rpc_max_batch_response_bytes) == (4096, 8192)
    assert config.explorer_limits.max_connections == 7
    assert config.explorer_limits.max_connections_per_ip == EXPLORER_LIMITS.max_connections_per_ip


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("max_nonce_gap = -1", "mempool.max_nonce_gap"),
        ('max_nonce_gap = "many"', "mempool.max_nonce_gap"),
        ("ttl_s = 0", "mempool.ttl_s"),
        ("ttl_s = true", "mempool.ttl_s"),
    ],
)
def test_a_bad_mempool_gap_or_ttl_is_a_named_error(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "config.toml").write_text(f"[mempool]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[rpc]\nmax_connections = 0\n", "rpc.max_connections"),
        ("[explorer]\nmax_connections_per_ip = -1\n", "explorer.max_connections_per_ip"),
        ("[rpc]\nheader_timeout_s = 0\n", "rpc.header_timeout_s"),
        ('[rpc]\nidle_timeout_s = "long"\n', "rpc.idle_timeout_s"),
        ('[rpc]\nallowed_hosts = "localhost"\n', "rpc.allowed_hosts"),
        ("[rpc]\nmax_response_bytes = 10\n", "rpc.max_response_bytes"),
    ],
)
def test_bad_listener_limits_are_named_errors(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        write_and_load(tmp_path, text)
    assert err.value.key == key


def test_connection_caps_fit_the_descriptor_limit() -> None:
    assert connection_caps(20_000, [1024, 512]) == [1024, 512]
    rpc, explorer = connection_caps(1024, [1024, 512])
    assert rpc + explorer <= 1024 - FD_RESERVE and rpc > explorer >= MIN_LISTENER_CONNECTIONS
    assert min(connection_caps(100, [1024, 512])) == MIN_LISTENER_CONNECTIONS  # never below the floor


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard > 64:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        limit = raise_open_file_limit()
        now_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert limit == now_soft
        assert hard == resource.RLIM_INFINITY or now_soft == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
