"""A node's status as one JSON-able object: for `vaxchain status`, the status file and RPC chain_status."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from node.chain.chain import Chain
from node.core.keys import to_checksum_address

STATUS_FILE = "status.json"


def chain_status(chain: Chain) -> dict[str, Any]:
    """Head height and hash, last block time, validators."""
    header = chain.head_header
    return {
        "chain_id": chain.chain_id,
        "chain_name": chain.genesis.chain_name,
        "height": header.height,
        "head_hash": "0x" + header.hash.hex(),
        "finalized_height": header.height,
        "last_block_time_ms": header.time_ms,
        "validators": [
            {"address": to_checksum_address(v.address), "name": v.name} for v in chain.validators()
        ],
    }


def write_status_file(datadir: Path, status: dict[str, Any]) -> None:
    """Atomically replace the datadir's status file (readers never see half a file)."""
    target = datadir / STATUS_FILE
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(status, indent=2), encoding="utf-8")
    os.replace(temp, target)


def read_status_file(datadir: Path) -> dict[str, Any] | None:
    """The status a running node last wrote, or None."""
    try:
        value: dict[str, Any] = json.loads((datadir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value
