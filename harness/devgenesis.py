"""Genesis documents for development, tests and benchmarks (never for a real deployment: keys are derived)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaxcrypto.keys import PrivateKey, to_checksum_address

DEV_GENESIS_TIME = "2026-01-01T00:00:00Z"


def dev_genesis(
    chain_id: int,
    validators: Sequence[PrivateKey],
    accounts: Sequence[PrivateKey] = (),
    *,
    block_interval_ms: int = 1000,
    empty_block_interval_ms: int = 30_000,
    genesis_time: str = DEV_GENESIS_TIME,
) -> dict[str, Any]:
    """A minimal valid genesis: the validators, and the three required organisations; ``accounts`` are CDC staff."""
    admin = PrivateKey.from_seed(f"dev-genesis/{chain_id}/admin")
    return {
        "chain_id": chain_id,
        "chain_name": f"dev-{chain_id}",
        "genesis_time": genesis_time,
        "block_interval_ms": block_interval_ms,
        "empty_block_interval_ms": empty_block_interval_ms,
        "validators": [
            {"address": to_checksum_address(k.address), "name": f"validator-{i}"}
            for i, k in enumerate(validators)
        ],
        "organisations": [
            {
                "org_id": "regulator",
                "org_type": "regulator",
                "name": "Drug Regulator",
                "accounts": [
                    to_checksum_address(PrivateKey.from_seed(f"dev-genesis/{chain_id}/regulator").address)
                ],
            },
            {
                "org_id": "health-commission",
                "org_type": "health_commission",
                "name": "Health Commission",
                "accounts": [to_checksum_address(PrivateKey.from_seed(f"dev-genesis/{chain_id}/hc").address)],
            },
            {
                "org_id": "cdc",
                "org_type": "cdc",
                "name": "District CDC",
                "accounts": [to_checksum_address(admin.address)],
                "staff": [to_checksum_address(k.address) for k in accounts],
            },
        ],
        "parameters": {},
    }
