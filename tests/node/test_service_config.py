"""config.toml keys of the producer and mempool sections: defaults, values and named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.mempool.pool import DEFAULT_MAX_NONCE_GAP, DEFAULT_MAX_TXS, DEFAULT_TTL_S
from node.service.config import DEFAULT_TX_GOSSIP_INTERVAL_MS, ConfigError, load_config


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
