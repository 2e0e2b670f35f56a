"""config.toml keys of the producer section: defaults, values and named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.service.config import ConfigError, load_config


def _write(tmp_path: Path, producer: str) -> Path:
    (tmp_path / "config.toml").write_text(f'[node]\nname = "n"\n\n[producer]\n{producer}\n', encoding="utf-8")
    return tmp_path


def test_transaction_gossip_interval_defaults_to_200_ms(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "")).tx_gossip_interval_ms == 200


def test_transaction_gossip_interval_is_read(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "tx_gossip_interval_ms = 50\nmax_block_txs = 500"))
    assert (config.tx_gossip_interval_ms, config.max_block_txs) == (50, 500)


@pytest.mark.parametrize("value", ["0", "10001", '"fast"'])
def test_a_bad_transaction_gossip_interval_is_a_named_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, f"tx_gossip_interval_ms = {value}"))
    assert info.value.key == "producer.tx_gossip_interval_ms"
